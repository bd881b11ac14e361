//! The uplift stage's outputs: `uplift_metrics`, `uplift_predictions` and `uplift_curve`, the
//! Qini chart's panels, `uplift_split.csv`, and the offer test's rate to give written beside
//! the model's tier in `cashback_predictions` (`recommended_rate` / `recommended_by`).

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::*;

use super::simulate::Truth;
use super::{CurvePoint, MetricRow, OutcomeStudy};
use crate::frame::{f64_column, i64_column, Table};
use crate::models::policy::MODEL_POLICY;
use crate::sources::offers::OfferLog;

/// `uplift_metrics`: a row per learner, outcome and arm (non-finite numbers as nulls).
pub(crate) fn metrics_table(rows: &[MetricRow]) -> Result<DataFrame> {
    let num = |f: &dyn Fn(&MetricRow) -> Option<f64>| {
        rows.iter()
            .map(|r| f(r).filter(|v| v.is_finite()))
            .collect::<Vec<Option<f64>>>()
    };
    Table::new(rows.len())
        .col("learner", rows.iter().map(|r| r.learner.as_str()))
        .col("outcome", rows.iter().map(|r| r.outcome.as_str()))
        .col("arm", rows.iter().map(|r| r.arm.as_str()))
        .col("qini", num(&|r| r.qini))
        .col("auuc", num(&|r| r.auuc))
        .col(
            "policy_value_ipw",
            num(&|r| r.value.as_ref().map(|v| v.ipw)),
        )
        .col("policy_value_dr", num(&|r| r.value.as_ref().map(|v| v.dr)))
        .col("ci_low", num(&|r| r.value.as_ref().map(|v| v.ci_low)))
        .col("ci_high", num(&|r| r.value.as_ref().map(|v| v.ci_high)))
        .col("gain_vs_best_arm", num(&|r| r.gain.as_ref().map(|g| g.dr)))
        .col("gain_ci_low", num(&|r| r.gain.as_ref().map(|g| g.ci_low)))
        .col("gain_ci_high", num(&|r| r.gain.as_ref().map(|g| g.ci_high)))
        .col("true_value", num(&|r| r.true_value))
        .col("regret_pct", num(&|r| r.regret_pct))
        .col("detail", rows.iter().map(|r| r.detail.clone()))
        .build()
}

/// `uplift_predictions`: a row per outcome, customer and arm — expected outcome, effect vs the
/// control, and for the money outcome (`spend_outcome`) cost and incremental profit.
pub(crate) fn predictions_table(
    log: &OfferLog,
    test: &[bool],
    studies: &[OutcomeStudy],
    spend_outcome: &str,
) -> Result<DataFrame> {
    let mut customer = Vec::new();
    let mut split = Vec::new();
    let mut learner = Vec::new();
    let mut outcome = Vec::new();
    let mut arm = Vec::new();
    let mut expected = Vec::new();
    let mut effect = Vec::new();
    let mut cost: Vec<Option<f64>> = Vec::new();
    let mut profit: Vec<Option<f64>> = Vec::new();
    let mut recommended = Vec::new();
    for s in studies {
        let money = s.outcome == spend_outcome;
        for (i, &held_out) in test.iter().enumerate() {
            for (a, arm_def) in log.arms.iter().enumerate() {
                customer.push(log.customer_id[i]);
                split.push(if held_out { "test" } else { "train" });
                learner.push(s.reported_learner.name());
                outcome.push(s.outcome.as_str());
                arm.push(arm_def.name.as_str());
                expected.push(s.expected[a][i]);
                effect.push(s.expected[a][i] - s.expected[0][i]);
                cost.push(money.then(|| arm_def.rate * s.expected[a][i] + arm_def.cost));
                profit.push(money.then(|| s.values[a][i] - s.values[0][i]));
                recommended.push(s.recommended[i] == a);
            }
        }
    }
    Table::new(customer.len())
        .col("customer_id", customer)
        .col("split", split)
        .col("learner", learner)
        .col("outcome", outcome)
        .col("arm", arm)
        .col("expected_outcome", expected)
        .col("effect", effect)
        .col("cost", cost)
        .col("incremental_profit", profit)
        .col("recommended", recommended)
        .build()
}

/// `uplift_curve`: every study's held-out Qini curve points.
pub(crate) fn curve_table(studies: &[OutcomeStudy]) -> Result<DataFrame> {
    let points: Vec<&CurvePoint> = studies.iter().flat_map(|s| s.curves.iter()).collect();
    Table::new(points.len())
        .col("learner", points.iter().map(|p| p.learner.as_str()))
        .col("outcome", points.iter().map(|p| p.outcome.as_str()))
        .col("arm", points.iter().map(|p| p.arm.as_str()))
        .col("fraction", points.iter().map(|p| p.fraction))
        .col("gain", points.iter().map(|p| p.gain))
        .build()
}

/// `uplift_split.csv`: each customer of the log and its side of the split.
pub(crate) fn split_csv(log: &OfferLog, test: &[bool]) -> String {
    let mut csv = String::from("customer_id,split\n");
    for (id, &t) in log.customer_id.iter().zip(test) {
        csv.push_str(&format!("{id},{}\n", if t { "test" } else { "train" }));
    }
    csv
}

/// `cashback_predictions` with `recommended_rate` / `recommended_by` from the learned policy
/// of `study` for the customers of the offer test (the model's columns stay beside them;
/// customers outside the test keep the model's tier), and the number given the learned rate.
pub(crate) fn with_recommended_rates(
    mut predictions: DataFrame,
    log: &OfferLog,
    study: &OutcomeStudy,
) -> Result<(DataFrame, usize)> {
    let ids = i64_column(&predictions, "customer_id")?;
    let tiers = f64_column(&predictions, "tier")?;
    let arm_of: HashMap<i64, usize> = log
        .customer_id
        .iter()
        .copied()
        .zip(study.recommended.iter().copied())
        .collect();
    let learned = format!("offer test: {}", study.policy);
    let mut rate = Vec::with_capacity(ids.len());
    let mut by = Vec::with_capacity(ids.len());
    for (id, tier) in ids.iter().zip(tiers) {
        match arm_of.get(id) {
            Some(&arm) => {
                rate.push(log.arms[arm].rate);
                by.push(learned.as_str());
            }
            None => {
                rate.push(tier);
                by.push(MODEL_POLICY);
            }
        }
    }
    let applied = by.iter().filter(|b| **b != MODEL_POLICY).count();
    predictions.with_column(Column::new("recommended_rate".into(), rate))?;
    predictions.with_column(Column::new("recommended_by".into(), by))?;
    Ok((predictions, applied))
}

/// The `offers_truth` table (customer by customer, arm by arm).
pub(crate) fn truth_table(log: &OfferLog, truth: &Truth) -> Result<DataFrame> {
    let k = log.arms.len();
    let cells: Vec<(usize, usize)> = (0..truth.customer_id.len())
        .flat_map(|i| (0..k).map(move |a| (i, a)))
        .collect();
    Table::new(cells.len())
        .col(
            "customer_id",
            cells.iter().map(|&(i, _)| truth.customer_id[i]),
        )
        .col("arm", cells.iter().map(|&(_, a)| log.arms[a].name.as_str()))
        .col("rate", cells.iter().map(|&(_, a)| log.arms[a].rate))
        .col("beta", cells.iter().map(|&(i, _)| truth.beta[i]))
        .col("margin", cells.iter().map(|&(i, _)| truth.margin[i]))
        .col(
            "expected_spend",
            cells.iter().map(|&(i, a)| truth.expected_spend[a][i]),
        )
        .col(
            "expected_profit",
            cells.iter().map(|&(i, a)| truth.expected_profit[a][i]),
        )
        .col("best", cells.iter().map(|&(i, a)| truth.best[i] == a))
        .build()
}
