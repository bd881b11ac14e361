//! The study's inputs beside the log: the features and margins of a log's customers looked up
//! in `customer_features`, the outcomes to learn, the `[offers] baseline` feature, the held-out
//! split and the cross-fitting folds, and — for a simulated test — the true profits and today's
//! oracle-label policy. Every function takes the tables already read.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use crate::error::user_error;
use crate::frame::{f64_column, feature_matrix, i64_column, str_column};
use crate::hash::h_customer;
use crate::models::split::is_test;
use crate::sources::offers::OfferLog;

/// Sets the log's features (the model features `names`) and margins (merchant commission +
/// `engagement_value`) from the rows of its customers in `customer_features`. `log_path` names
/// the log when a customer is not there.
pub(crate) fn look_up_customers(
    log: &mut OfferLog,
    customer_features: &DataFrame,
    names: &[String],
    engagement_value: f64,
    log_path: &Path,
) -> Result<()> {
    let ids = i64_column(customer_features, "customer_id")?;
    let x = feature_matrix(customer_features, names)?;
    let commission = f64_column(customer_features, "merchant_commission")?;
    let row_of: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut rows = Vec::with_capacity(log.len());
    for (data_row, id) in log.customer_id.iter().enumerate() {
        match row_of.get(id) {
            Some(&row) => rows.push(row),
            None => {
                return Err(user_error(format!(
                    "{}: data row {}: customer {id} is not in customer_features (list [offers] features to learn from the log's own columns)",
                    log_path.display(),
                    data_row + 1
                )))
            }
        }
    }
    log.features = names
        .iter()
        .enumerate()
        .map(|(j, name)| (name.clone(), rows.iter().map(|&r| x.get(r, j)).collect()))
        .collect();
    log.margin = rows
        .iter()
        .map(|&r| commission[r] + engagement_value)
        .collect();
    Ok(())
}

/// How an external log's customers get their features and margins.
#[derive(Clone, Debug)]
pub(crate) struct CustomerLookup {
    /// The model features looked up in `customer_features`.
    pub names: Vec<String>,
    /// Added to each looked-up customer's merchant commission.
    pub engagement_value: f64,
    /// Every row's margin when the log carries its own features.
    pub fixed_margin: f64,
}

/// An external log's features and margins: looked up in `customer_features` when it is given
/// (the log names no features of its own, [`look_up_customers`]), else the log keeps its own
/// features and every row gets the fixed margin.
pub(crate) fn resolve_customers(
    log: &mut OfferLog,
    customer_features: Option<&DataFrame>,
    lookup: &CustomerLookup,
    log_path: &Path,
) -> Result<()> {
    match customer_features {
        Some(features) => look_up_customers(
            log,
            features,
            &lookup.names,
            lookup.engagement_value,
            log_path,
        ),
        None => {
            log.margin = vec![lookup.fixed_margin; log.len()];
            Ok(())
        }
    }
}

/// Keeps the log's outcomes named in `outcomes`; an error naming those it lacks.
pub(crate) fn keep_outcomes(log: &mut OfferLog, outcomes: &[String]) -> Result<()> {
    let missing: Vec<&String> = outcomes
        .iter()
        .filter(|o| !log.outcomes.iter().any(|(name, _)| name == *o))
        .collect();
    if !missing.is_empty() {
        return Err(user_error(format!(
            "config key [offers] outcomes: the stored offers have no outcome {:?} (they have {:?})",
            missing,
            log.outcomes.iter().map(|(n, _)| n).collect::<Vec<_>>()
        )));
    }
    log.outcomes.retain(|(name, _)| outcomes.contains(name));
    Ok(())
}

/// The held-out split and the cross-fitting folds of the log's customers.
pub(crate) struct Split {
    /// Per log row: held out for evaluation.
    pub test: Vec<bool>,
    /// Per log row: the cross-fitting fold.
    pub fold: Vec<usize>,
    /// Held-out customers.
    pub n_test: usize,
}

/// Splits the log's customers by the hash of their id (`test_percent` held out, the same hash
/// as `train`'s split) and assigns `n_folds` folds; an error when too few are left on a side.
pub(crate) fn split(log: &OfferLog, seed: u64, test_percent: u64, n_folds: u64) -> Result<Split> {
    let test: Vec<bool> = log
        .customer_id
        .iter()
        .map(|&c| is_test(seed, c, test_percent))
        .collect();
    let fold: Vec<usize> = log
        .customer_id
        .iter()
        .map(|&c| (h_customer("fold", seed, c) % n_folds) as usize)
        .collect();
    let n_test = test.iter().filter(|&&t| t).count();
    if n_test < 10 || log.len() - n_test < 10 * n_folds as usize {
        return Err(user_error(format!(
            "too few customers for an uplift study: {} in training and {n_test} held out (config key [offers] test_percent)",
            log.len() - n_test
        )));
    }
    Ok(Split { test, fold, n_test })
}

/// `[offers] baseline` (`name`): the named feature of every customer of the log, checked
/// positive; `"auto"` = `total_spent` when the log has it, `""` = none.
pub(crate) fn baseline(name: &str, log: &OfferLog) -> Result<Option<Vec<f64>>> {
    let mut name = name;
    if name == "auto" {
        name = "total_spent";
        if !log.features.iter().any(|(f, _)| f == name) {
            tracing::info!("uplift: no total_spent among the features: learning raw spend");
            return Ok(None);
        }
    }
    if name.is_empty() {
        return Ok(None);
    }
    let Some((_, values)) = log.features.iter().find(|(f, _)| f == name) else {
        return Err(user_error(format!(
            "config key [offers] baseline: the offer test's features have no {name:?} (they have {:?})",
            log.features.iter().map(|(f, _)| f).collect::<Vec<_>>()
        )));
    };
    if let Some(i) = values.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(user_error(format!(
            "config key [offers] baseline: {name} of customer {} is {}, but a baseline must be positive",
            log.customer_id[i], values[i]
        )));
    }
    Ok(Some(values.clone()))
}

/// What a simulated test adds to its log: the true profits from `truth` (`offers_truth`, when
/// stored) and, only when those are complete, today's oracle-label policy from the predictions
/// `predictions` gives (`cashback_predictions`' customer_id and tier, read only then).
pub(crate) fn simulated_extras(
    log: &OfferLog,
    truth: Option<&DataFrame>,
    predictions: impl FnOnce() -> Result<Option<DataFrame>>,
) -> Result<super::Extras> {
    let true_profit = match truth {
        Some(truth) => true_profit(truth, log)?,
        None => None,
    };
    let oracle_label_policy = match true_profit {
        Some(_) => match predictions()? {
            Some(predictions) => oracle_label_policy(&predictions, log)?,
            None => None,
        },
        None => None,
    };
    Ok(super::Extras {
        true_profit,
        oracle_label_policy,
    })
}

/// The simulated truth (`offers_truth`) aligned with the log's rows, when every customer has it.
pub(crate) fn true_profit(truth: &DataFrame, log: &OfferLog) -> Result<Option<Vec<Vec<f64>>>> {
    if truth.height() == 0 {
        return Ok(None);
    }
    let ids = i64_column(truth, "customer_id")?;
    let arms = str_column(truth, "arm")?;
    let profit = f64_column(truth, "expected_profit")?;
    let arm_index: HashMap<&str, usize> = log
        .arms
        .iter()
        .enumerate()
        .map(|(a, arm)| (arm.name.as_str(), a))
        .collect();
    let row_of = log.row_of();
    let mut out = vec![vec![f64::NAN; log.len()]; log.arms.len()];
    for j in 0..truth.height() {
        if let (Some(&a), Some(&i)) = (arm_index.get(arms[j].as_str()), row_of.get(&ids[j])) {
            out[a][i] = profit[j];
        }
    }
    let complete = out.iter().all(|col| col.iter().all(|v| v.is_finite()));
    Ok(complete.then_some(out))
}

/// Today's oracle-label regression as an arm per log row: its tier (`cashback_predictions`'
/// `customer_id` and `tier`) snapped to the nearest arm rate (ties → the lower rate); `None`
/// when a customer of the log has no prediction.
pub(crate) fn oracle_label_policy(
    predictions: &DataFrame,
    log: &OfferLog,
) -> Result<Option<Vec<usize>>> {
    let ids = i64_column(predictions, "customer_id")?;
    let tiers = f64_column(predictions, "tier")?;
    let tier_of: HashMap<i64, f64> = ids.into_iter().zip(tiers).collect();
    let mut policy = Vec::with_capacity(log.len());
    for id in &log.customer_id {
        let Some(&tier) = tier_of.get(id) else {
            return Ok(None);
        };
        let mut best = 0;
        for (a, arm) in log.arms.iter().enumerate() {
            if (arm.rate - tier).abs() < (log.arms[best].rate - tier).abs() {
                best = a;
            }
        }
        policy.push(best);
    }
    Ok(Some(policy))
}
