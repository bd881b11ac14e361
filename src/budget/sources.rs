//! Where the allocator's per (customer, arm) rows come from, and the budget they are given:
//!
//! - a values file: any CSV with customer_id, arm, cost, value ([`from_values_file`]);
//! - an offer test: table `uplift_predictions`, value = `incremental_profit`, cost = `cost`, for
//!   the one spend-like outcome ([`spend_outcome`]); the customers' expected spend is their
//!   baseline outcome, `expected_outcome − effect`; with the stored offer log (table `offers`),
//!   the arms' rates and the held-out customers ([`from_uplift`]);
//! - the economic model read through the trained model's predicted rate ([`from_model`]):
//!   arms = the tiers, expected spend = Σ `total_spent`.
//!
//! Each reader takes tables already read from the store (or a file path) and plain parameters,
//! and says how to name a bad row in a message ([`AllocationInput::locate`]).

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use super::comparison::{dense_customers, flat_arm, percent};
use super::from_model::{model_arms, CustomerEconomics, ModelArmsParams};
use super::heldout::{HeldOut, TestLog, TestPredictions};
use super::{BudgetError, BudgetRule, Offers};
use crate::error::user_error;
use crate::frame::{bool_column, f64_column, i64_column, str_column};
use crate::sources::budget_values::{rate_of, read_values, sort_arms_by};
use crate::sources::SourceError;

/// Per (customer, arm) rows ready for the allocator, and how to name a row in a message.
pub(crate) struct AllocationInput {
    pub source: String,
    pub customer_ids: Vec<i64>,
    pub arm_names: Vec<String>,
    pub arm_rates: Vec<Option<f64>>,
    pub customer: Vec<u32>,
    pub arm: Vec<u32>,
    pub cost: Vec<f64>,
    pub value: Vec<f64>,
    /// Customers' expected spend at no cashback, when the source knows it.
    pub expected_spend: Option<f64>,
    /// The offer test's held-out customers, when the values come from an offer test.
    pub held_out: Option<HeldOut>,
    /// Turns an allocator error into a user error naming the file/table, row and column.
    pub locate: Box<dyn Fn(BudgetError) -> anyhow::Error>,
}

impl AllocationInput {
    /// The rows as the allocator takes them.
    pub(crate) fn offers(&self) -> Offers<'_> {
        Offers {
            customer: &self.customer,
            arm: &self.arm,
            cost: &self.cost,
            value: &self.value,
        }
    }
}

/// The rows of a values file (see `sources::budget_values`).
pub(crate) fn from_values_file(
    file: &Path,
    max_decompressed_bytes: u64,
) -> Result<AllocationInput> {
    let rows = read_values(file, max_decompressed_bytes)?;
    let (customer_ids, customer) = dense_customers(&rows.customer_id);
    let arm_rates = rows.arm_names.iter().map(|n| rate_of(n)).collect();
    let path = file.to_path_buf();
    let lines = rows.line.clone();
    Ok(AllocationInput {
        source: format!("values file {}", file.display()),
        customer_ids,
        arm_names: rows.arm_names,
        arm_rates,
        customer,
        arm: rows.arm,
        cost: rows.cost,
        value: rows.value,
        expected_spend: None,
        held_out: None,
        locate: Box::new(move |err| match err {
            BudgetError::Row {
                row,
                column,
                message,
            } => SourceError::at(
                &path,
                format!("line {}, column {column}", lines[row]),
                message,
            )
            .into(),
            BudgetError::Duplicate { row, first } => SourceError::at(
                &path,
                format!("line {}, column arm", lines[row]),
                format!(
                    "the same customer and arm as line {} (one row per customer and arm)",
                    lines[first]
                ),
            )
            .into(),
            other => SourceError::file(&path, other.to_string()).into(),
        }),
    })
}

/// The spend-like outcome of `uplift_predictions`: the outcome named `spend`, else the only
/// outcome whose name contains "spend" or "revenue", else the only outcome.
pub(crate) fn spend_outcome(outcomes: &[String]) -> Result<String> {
    let mut distinct: Vec<&String> = outcomes.iter().collect();
    distinct.sort();
    distinct.dedup();
    if let Some(spend) = distinct.iter().find(|o| o.as_str() == "spend") {
        return Ok(spend.to_string());
    }
    let like: Vec<&&String> = distinct
        .iter()
        .filter(|o| {
            let lower = o.to_lowercase();
            lower.contains("spend") || lower.contains("revenue")
        })
        .collect();
    match (like.as_slice(), distinct.as_slice()) {
        ([one], _) => Ok(one.to_string()),
        (_, [only]) => Ok(only.to_string()),
        _ => Err(user_error(format!(
            "table uplift_predictions: cannot tell which outcome is spend among {distinct:?} (want one named \"spend\")"
        ))),
    }
}

/// The stored offer log's rows of one outcome.
struct OfferRows {
    customer_id: Vec<i64>,
    arm: Vec<String>,
    rate: Vec<f64>,
    contact_cost: Vec<f64>,
    control: Vec<bool>,
    margin: Vec<f64>,
    outcome: Vec<f64>,
}

impl OfferRows {
    fn columns(&self) -> TestLog<'_> {
        TestLog {
            customer_id: &self.customer_id,
            arm: &self.arm,
            rate: &self.rate,
            contact_cost: &self.contact_cost,
            control: &self.control,
            margin: &self.margin,
            outcome: &self.outcome,
        }
    }
}

/// The rows of `offers` (table `offers`) for `outcome`; `None` when there are none.
fn offer_log(offers: &DataFrame, outcome: &str) -> Result<Option<OfferRows>> {
    let outcomes = str_column(offers, "outcome")?;
    let keep: Vec<usize> = (0..offers.height())
        .filter(|&i| outcomes[i] == outcome)
        .collect();
    if keep.is_empty() {
        return Ok(None);
    }
    let pick_f64 = |name: &str| -> Result<Vec<f64>> {
        let all = f64_column(offers, name)?;
        Ok(keep.iter().map(|&i| all[i]).collect())
    };
    let ids = i64_column(offers, "customer_id")?;
    let arms = str_column(offers, "arm")?;
    let control = bool_column(offers, "control")?;
    Ok(Some(OfferRows {
        customer_id: keep.iter().map(|&i| ids[i]).collect(),
        arm: keep.iter().map(|&i| arms[i].clone()).collect(),
        rate: pick_f64("rate")?,
        contact_cost: pick_f64("contact_cost")?,
        control: keep.iter().map(|&i| control[i]).collect(),
        margin: pick_f64("margin")?,
        outcome: pick_f64("value")?,
    }))
}

/// The rows of `predictions` (table `uplift_predictions`) for the spend-like outcome; `offers`
/// (table `offers`, when the store has it) gives the arms' rates and the held-out customers.
pub(crate) fn from_uplift(
    predictions: &DataFrame,
    offers: Option<&DataFrame>,
) -> Result<AllocationInput> {
    let table = predictions;
    let column = |name: &str| {
        table
            .column(name)
            .map(|_| ())
            .map_err(|_| user_error(format!("table uplift_predictions has no column {name}")))
    };
    for name in [
        "customer_id",
        "outcome",
        "arm",
        "expected_outcome",
        "effect",
        "cost",
        "incremental_profit",
    ] {
        column(name)?;
    }
    let outcomes = str_column(table, "outcome")?;
    let outcome = spend_outcome(&outcomes)?;
    let ids = table
        .column("customer_id")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or_default())
        .collect::<Vec<i64>>();
    let arms_text: Vec<String> = table
        .column("arm")?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect();
    let expected = f64_column(table, "expected_outcome")?;
    let effect = f64_column(table, "effect")?;
    let cost_all = f64_column(table, "cost")?;
    let value_all = f64_column(table, "incremental_profit")?;
    let keep: Vec<usize> = (0..table.height())
        .filter(|&i| outcomes[i] == outcome)
        .collect();
    let mut names: Vec<String> = Vec::new();
    let mut arm_raw = Vec::with_capacity(keep.len());
    for &i in &keep {
        let position = match names.iter().position(|n| *n == arms_text[i]) {
            Some(p) => p,
            None => {
                names.push(arms_text[i].clone());
                names.len() - 1
            }
        };
        arm_raw.push(position as u32);
    }
    // The offer log knows each arm's rate; arms sort by it.
    let log = match offers {
        Some(offers) => offer_log(offers, &outcome)?,
        None => None,
    };
    let rate_of_arm = |name: &str| match &log {
        Some(log) => log.arm.iter().position(|a| a == name).map(|i| log.rate[i]),
        None => rate_of(name),
    };
    let rates: Vec<Option<f64>> = names.iter().map(|n| rate_of_arm(n)).collect();
    let (order, arm_names) = sort_arms_by(&names, &rates);
    let arm: Vec<u32> = arm_raw.iter().map(|&a| order[a as usize]).collect();
    let kept_ids: Vec<i64> = keep.iter().map(|&i| ids[i]).collect();
    let (customer_ids, customer) = dense_customers(&kept_ids);
    // Baseline spend, once per customer (the first row's `expected_outcome − effect`).
    let mut baseline = vec![f64::NAN; customer_ids.len()];
    for (k, &i) in keep.iter().enumerate() {
        let c = customer[k] as usize;
        if baseline[c].is_nan() {
            baseline[c] = expected[i] - effect[i];
        }
    }
    let spend: f64 = baseline.iter().sum();
    let arm_rates = arm_names.iter().map(|n| rate_of_arm(n)).collect();
    let held_out = match &log {
        Some(log) => {
            let split = str_column(table, "split")?;
            let test: Vec<usize> = keep
                .iter()
                .copied()
                .filter(|&i| split[i] == "test")
                .collect();
            let test_ids: Vec<i64> = test.iter().map(|&i| ids[i]).collect();
            let test_arms: Vec<String> = test.iter().map(|&i| arms_text[i].clone()).collect();
            let test_expected: Vec<f64> = test.iter().map(|&i| expected[i]).collect();
            HeldOut::from_columns(
                &log.columns(),
                &TestPredictions {
                    customer_id: &test_ids,
                    arm: &test_arms,
                    expected: &test_expected,
                },
                &arm_names,
                &customer_ids,
            )
            .map_err(|e| user_error(format!("tables offers and uplift_predictions: {e}")))?
        }
        None => None,
    };
    let rows_of_table = keep.clone();
    let ids_of_rows = kept_ids.clone();
    let names_of_arms = arm_names.clone();
    let arm_of_rows = arm.clone();
    Ok(AllocationInput {
        source: format!("uplift_predictions (outcome {outcome})"),
        customer_ids,
        arm_names,
        arm_rates,
        customer,
        arm,
        cost: keep.iter().map(|&i| cost_all[i]).collect(),
        value: keep.iter().map(|&i| value_all[i]).collect(),
        expected_spend: spend.is_finite().then_some(spend),
        held_out,
        locate: Box::new(move |err| {
            match err {
            BudgetError::Row {
                row,
                column,
                message,
            } => {
                let column = match column {
                    "value" => "incremental_profit",
                    other => other,
                };
                user_error(format!(
                    "table uplift_predictions, row {} (customer {}, arm {}), column {column}: {message}",
                    rows_of_table[row] + 1,
                    ids_of_rows[row],
                    names_of_arms[arm_of_rows[row] as usize]
                ))
            }
            BudgetError::Duplicate { row, first } => user_error(format!(
                "table uplift_predictions, row {} (customer {}, arm {}): the same customer, arm and outcome as row {}",
                rows_of_table[row] + 1,
                ids_of_rows[row],
                names_of_arms[arm_of_rows[row] as usize],
                rows_of_table[first] + 1
            )),
            other => user_error(format!("table uplift_predictions: {other}")),
        }
        }),
    })
}

/// Every customer of `predictions` (table `cashback_predictions`: customer_id, margin,
/// predicted_rate) at every tier of `params`, their expected spend from `features` (table
/// `customer_features`: customer_id, total_spent).
pub(crate) fn from_model(
    predictions: &DataFrame,
    features: &DataFrame,
    params: &ModelArmsParams,
) -> Result<AllocationInput> {
    let pred_ids = i64_column(predictions, "customer_id")?;
    let margin = f64_column(predictions, "margin")?;
    let predicted_rate = f64_column(predictions, "predicted_rate")?;
    let feature_ids = i64_column(features, "customer_id")?;
    let total_spent = f64_column(features, "total_spent")?;
    let spend_of: HashMap<i64, f64> = feature_ids.into_iter().zip(total_spent).collect();
    // Customers in customer_id order (dense index = position).
    let mut order: Vec<usize> = (0..pred_ids.len()).collect();
    order.sort_by_key(|&i| pred_ids[i]);
    let mut spend = Vec::with_capacity(order.len());
    for &i in &order {
        match spend_of.get(&pred_ids[i]) {
            Some(&s) => spend.push(s),
            None => {
                return Err(user_error(format!(
                    "customer {} is in cashback_predictions but not in customer_features: run `fluz eda` and `fluz train` again",
                    pred_ids[i]
                )))
            }
        }
    }
    let customer_ids: Vec<i64> = order.iter().map(|&i| pred_ids[i]).collect();
    let margin: Vec<f64> = order.iter().map(|&i| margin[i]).collect();
    let predicted_rate: Vec<f64> = order.iter().map(|&i| predicted_rate[i]).collect();
    let arms = model_arms(
        &CustomerEconomics {
            spend: &spend,
            margin: &margin,
            predicted_rate: &predicted_rate,
        },
        params,
    );
    let arm_names: Vec<String> = params.tiers.iter().map(|t| format!("{t}")).collect();
    let ids = customer_ids.clone();
    let names = arm_names.clone();
    let (row_customer, row_arm) = (arms.customer.clone(), arms.arm.clone());
    Ok(AllocationInput {
        source: "model (cashback_predictions: predicted rate → implied β)".into(),
        customer_ids,
        arm_rates: params.tiers.iter().map(|&t| Some(t)).collect(),
        arm_names,
        customer: arms.customer,
        arm: arms.arm,
        cost: arms.cost,
        value: arms.value,
        expected_spend: Some(spend.iter().sum()),
        held_out: None,
        locate: Box::new(move |err| {
            match err {
            BudgetError::Row {
                row,
                column,
                message,
            } => user_error(format!(
                "customer {} at tier {}: the economic model's {column} {message} (check cashback_predictions and customer_features)",
                ids[row_customer[row] as usize], names[row_arm[row] as usize]
            )),
            other => user_error(other.to_string()),
        }
        }),
    })
}

/// A budget asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BudgetAsk {
    Amount(f64),
    Share(f64),
}

/// Where a budget ask came from, to name it in messages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AskOrigin {
    /// `--budget` / `--budget-share`.
    Flag,
    /// `[budget] budget` / `budget_share`.
    Settings,
}

/// The budget rule and a sentence saying where the amount came from: the ask, else (`None`)
/// the cost of every customer on the arm at `flat_rate`.
pub(crate) fn budget_rule(
    ask: Option<(BudgetAsk, AskOrigin)>,
    flat_rate: f64,
    input: &AllocationInput,
) -> Result<(BudgetRule, String)> {
    match ask {
        Some((BudgetAsk::Amount(amount), origin)) => {
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(user_error(format!(
                    "--budget must be a finite number >= 0, got {amount}"
                )));
            }
            let key = match origin {
                AskOrigin::Flag => "--budget",
                AskOrigin::Settings => "[budget] budget",
            };
            Ok((
                BudgetRule::Amount(amount),
                format!("amount {amount} ({key})"),
            ))
        }
        Some((BudgetAsk::Share(share), origin)) => {
            if !(share > 0.0 && share <= 1.0) {
                return Err(user_error(format!(
                    "--budget-share must be in (0, 1], got {share}"
                )));
            }
            let key = match origin {
                AskOrigin::Flag => "--budget-share",
                AskOrigin::Settings => "[budget] budget_share",
            };
            let Some(spend) = input.expected_spend else {
                return Err(user_error(format!(
                    "{key} needs the customers' expected spend, which a values file does not carry: give an amount with --budget"
                )));
            };
            Ok((
                BudgetRule::Amount(share * spend),
                format!("share {share} of the customers' expected spend {spend:.2} ({key})"),
            ))
        }
        None => match flat_arm(&input.arm_rates, flat_rate) {
            Some(arm) => Ok((
                BudgetRule::FlatPolicy(arm),
                format!(
                    "the cost of the flat {} policy ([economics] flat_rate)",
                    percent(flat_rate)
                ),
            )),
            None => Err(user_error(format!(
                "no budget given and no arm has the flat rate {flat_rate} ([economics] flat_rate) to price the default budget: pass --budget AMOUNT or set [budget] budget"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_spend_like_outcome() {
        assert_eq!(
            spend_outcome(&names(&["visits", "spend", "spend"])).unwrap(),
            "spend"
        );
        assert_eq!(
            spend_outcome(&names(&["visits", "total_revenue"])).unwrap(),
            "total_revenue"
        );
        assert_eq!(
            spend_outcome(&names(&["basket", "basket"])).unwrap(),
            "basket"
        );
        assert!(spend_outcome(&names(&["visits", "clicks"]))
            .unwrap_err()
            .to_string()
            .contains("cannot tell which outcome is spend"));
    }

    #[test]
    fn percent_is_short() {
        assert_eq!(percent(0.02), "2%");
        assert_eq!(percent(0.075), "7.5%");
        assert_eq!(percent(0.0), "0%");
    }
}
