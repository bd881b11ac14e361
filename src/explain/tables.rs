//! The explain stage's tables: the cashback model's SHAP values, importance and per-customer
//! explanations (`cashback_shap_values`, `cashback_shap_importance`, `cashback_explanations`),
//! and the offer test's effect explanations joined from the log and `uplift_predictions`
//! (`uplift_explanations`, `uplift_shap_importance`).

use anyhow::Result;
use polars::prelude::*;

use super::drivers::{explain_rows, importance_order, sentence};
use super::effects::{effect_drivers, explain_arms, explained_arms};
use super::ShapValues;
use crate::frame::{bool_column, f64_column, i64_column, opt_f64_column, str_column, Table};
use crate::learn::matrix::Matrix;
use crate::sources::offers::OfferLog;

/// The cashback model's explanation tables, and its features by mean |φ|.
pub(crate) struct CashbackTables {
    pub values: DataFrame,
    pub importance: DataFrame,
    pub explanations: DataFrame,
    /// Mean |φ| per feature (in the model's feature order).
    pub mean_abs: Vec<f64>,
    /// Feature indices, largest mean |φ| first.
    pub order: Vec<usize>,
}

/// The cashback model's tables: `shap` of `customer_ids` × `features` (their values in `x`),
/// the importance order, and each customer's predicted rate (`predictions` clamped to
/// `rate_min..=rate_max`) with its `top` drivers in words.
pub(crate) fn cashback_tables(
    customer_ids: &[i64],
    features: &[String],
    x: &Matrix,
    shap: &ShapValues,
    predictions: &[f64],
    (rate_min, rate_max): (f64, f64),
    top: usize,
) -> Result<CashbackTables> {
    let n = customer_ids.len();
    let n_features = features.len();
    // Long table: customer × feature.
    let cells = n * n_features;
    let values_table = Table::new(cells)
        .col(
            "customer_id",
            customer_ids
                .iter()
                .flat_map(|&c| std::iter::repeat_n(c, n_features)),
        )
        .col(
            "feature",
            (0..n).flat_map(|_| features.iter().map(String::as_str)),
        )
        .col("value", (0..n).flat_map(|i| x.row(i).iter().copied()))
        .col("shap", (0..n).flat_map(|i| shap.row(i).iter().copied()))
        .build()?;
    let mean_abs = shap.mean_abs();
    let order = importance_order(&mean_abs);
    let importance_table = Table::new(n_features)
        .col("feature", order.iter().map(|&j| features[j].as_str()))
        .col("mean_abs_shap", order.iter().map(|&j| mean_abs[j]))
        .col("rank", 1..=n_features as i64)
        .build()?;
    let clamped: Vec<f64> = predictions
        .iter()
        .map(|r| r.clamp(rate_min, rate_max))
        .collect();
    let explained = explain_rows(shap, x, features, &clamped, top);
    let [d1, d2, d3] = explained.drivers;
    let explanations_table = Table::new(n)
        .col("customer_id", customer_ids.iter().copied())
        .col("predicted_rate", clamped)
        .col("base_rate", std::iter::repeat_n(shap.base_value, n))
        .col("driver_1", d1)
        .col("driver_2", d2)
        .col("driver_3", d3)
        .col("explanation", explained.sentences)
        .build()?;
    Ok(CashbackTables {
        values: values_table,
        importance: importance_table,
        explanations: explanations_table,
        mean_abs,
        order,
    })
}

/// The offer test's explanation tables.
pub(crate) struct EffectTables {
    pub outcome: String,
    pub customers: usize,
    /// (arm, R² of its effect model) per explained arm.
    pub fidelity: Vec<(String, f64)>,
    pub explanations: DataFrame,
    pub importance: DataFrame,
}

/// Joins the log and the predictions, fits and explains an effect model per explained arm.
/// `None` when the predictions have no money outcome (nothing is recommended in money terms)
/// or the test has a single arm.
pub(crate) fn effect_tables(
    log: &OfferLog,
    predictions: &DataFrame,
    top: usize,
    seed: u64,
) -> Result<Option<EffectTables>> {
    let n = log.len();
    let k = log.arms.len();
    let outcome = str_column(predictions, "outcome")?;
    let cost = opt_f64_column(predictions, "cost")?;
    let Some(money) = (0..predictions.height())
        .find(|&i| cost[i].is_some())
        .map(|i| outcome[i].clone())
    else {
        return Ok(None);
    };
    if k < 2 || n == 0 {
        return Ok(None);
    }
    let ids = i64_column(predictions, "customer_id")?;
    let arm = str_column(predictions, "arm")?;
    let effect_column = f64_column(predictions, "effect")?;
    let profit = opt_f64_column(predictions, "incremental_profit")?;
    let recommended = bool_column(predictions, "recommended")?;
    let row_of = log.row_of();
    let mut effect = vec![vec![0.0; n]; k];
    let mut gain = vec![vec![f64::NEG_INFINITY; n]; k];
    let mut chosen = vec![0usize; n];
    for i in 0..predictions.height() {
        if outcome[i] != money {
            continue;
        }
        let (Some(&row), Some(a)) = (
            row_of.get(&ids[i]),
            log.arms.iter().position(|x| x.name == arm[i]),
        ) else {
            continue;
        };
        effect[a][row] = effect_column[i];
        gain[a][row] = profit[i].unwrap_or(f64::NEG_INFINITY);
        if recommended[i] {
            chosen[row] = a;
        }
    }
    let explained_arm = explained_arms(&chosen, &gain);
    let mut arms: Vec<usize> = explained_arm.clone();
    arms.sort_unstable();
    arms.dedup();
    let names: Vec<String> = log.features.iter().map(|(f, _)| f.clone()).collect();
    let columns: Vec<Vec<f64>> = log.features.iter().map(|(_, v)| v.clone()).collect();
    let x = Matrix::from_columns(&columns);
    let fitted = explain_arms(&x, &effect, &arms, seed)?;
    let of_arm = |a: usize| {
        fitted
            .iter()
            .find(|f| f.arm == a)
            .expect("every explained arm is fitted")
    };
    let mut drivers: [Vec<String>; 3] = Default::default();
    let mut sentences = Vec::with_capacity(n);
    let mut explained_effect = Vec::with_capacity(n);
    let mut base = Vec::with_capacity(n);
    for i in 0..n {
        let a = explained_arm[i];
        let model = of_arm(a);
        let texts = effect_drivers(model.shap.row(i), x.row(i), &names, top.max(3));
        for (slot, column) in drivers.iter_mut().enumerate() {
            column.push(texts.get(slot).cloned().unwrap_or_default());
        }
        let lead = if chosen[i] == 0 {
            format!(
                "No cashback ({}): {} would change {money} by {:+.2} (average customer {:+.2}), not enough to pay for itself",
                log.arms[0].name, log.arms[a].name, model.explained[i], model.shap.base_value
            )
        } else {
            format!(
                "Recommended {}: learned effect on {money} {:+.2} vs {} (average customer {:+.2})",
                log.arms[a].name, model.explained[i], log.arms[0].name, model.shap.base_value
            )
        };
        sentences.push(sentence(&lead, &texts, top));
        explained_effect.push(model.explained[i]);
        base.push(model.shap.base_value);
    }
    let [d1, d2, d3] = drivers;
    let explanations = Table::new(n)
        .col("customer_id", log.customer_id.iter().copied())
        .col(
            "arm",
            explained_arm.iter().map(|&a| log.arms[a].name.as_str()),
        )
        .col(
            "recommended",
            explained_arm.iter().zip(&chosen).map(|(a, c)| a == c),
        )
        .col("effect", (0..n).map(|i| effect[explained_arm[i]][i]))
        .col("explained_effect", explained_effect)
        .col("base_effect", base)
        .col("driver_1", d1)
        .col("driver_2", d2)
        .col("driver_3", d3)
        .col("explanation", sentences)
        .build()?;
    let (mut i_arm, mut i_feature, mut i_value, mut i_rank, mut i_r2) =
        (vec![], vec![], vec![], vec![], vec![]);
    for model in &fitted {
        let mean_abs = model.shap.mean_abs();
        for (rank, &j) in importance_order(&mean_abs).iter().enumerate() {
            i_arm.push(log.arms[model.arm].name.clone());
            i_feature.push(names[j].clone());
            i_value.push(mean_abs[j]);
            i_rank.push(rank as i64 + 1);
            i_r2.push(model.fidelity_r2);
        }
    }
    let importance = Table::new(i_arm.len())
        .col("arm", i_arm)
        .col("feature", i_feature)
        .col("mean_abs_shap", i_value)
        .col("rank", i_rank)
        .col("fidelity_r2", i_r2)
        .build()?;
    Ok(Some(EffectTables {
        outcome: money,
        customers: n,
        fidelity: fitted
            .iter()
            .map(|f| (log.arms[f.arm].name.clone(), f.fidelity_r2))
            .collect(),
        explanations,
        importance,
    }))
}
