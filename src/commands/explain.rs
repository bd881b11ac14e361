//! `fluz explain`: exact SHAP values of the final model for every customer (TreeSHAP for tree
//! models, exact linear SHAP for OLS), checked for local accuracy at run time; mean |φ|
//! importance, each customer's top drivers in words, and the two SHAP charts.

use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;

use super::table::{feature_matrix, i64_column, Table};
use crate::explain::drivers::{explain_rows, importance_order, sentence};
use crate::explain::effects::{effect_drivers, explain_arms, explained_arms};
use crate::explain::{check_local_accuracy, model_shap};
use crate::learn::matrix::Matrix;
use crate::models::family::SavedModel;
use crate::report::charts;
use crate::sources::offers::OfferLog;
use crate::store::Store;
use crate::{progress, Context};

/// Relative tolerance of the local-accuracy check.
pub(crate) const LOCAL_ACCURACY_TOLERANCE: f64 = 1e-9;

/// Runs the stage: the cashback model's SHAP explanation (when `train` has run, or when there is
/// no offer test to explain instead) and the offer test's effect explanation (when `uplift` has
/// run). Returns the customers explained.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<usize> {
    let started = Instant::now();
    let model = ctx.config.export.out_dir.join("cashback_model.json");
    let offer_test = ["uplift_predictions", "offers", "offer_features"]
        .iter()
        .map(|t| store.has_table(t))
        .collect::<Result<Vec<bool>>>()?
        .into_iter()
        .all(|has| has);
    let mut details = serde_json::Map::new();
    let mut explained = 0;
    if model.exists() || !offer_test {
        let (n, cashback) = explain_cashback(ctx, store)?;
        explained = n;
        details.extend(cashback);
    }
    if offer_test {
        let (n, effects) = explain_offer_test(ctx, store)?;
        explained = explained.max(n);
        details.insert("offer_test".into(), effects);
    }
    super::record_stage(
        store,
        "explain",
        started,
        explained,
        serde_json::Value::Object(details),
    )?;
    Ok(explained)
}

/// The offer test's recommendation explained: per customer, the effect of their recommended
/// arm (or, when they get the control, of the best other arm) through an effect model per arm
/// (`explain::effects`), top drivers in words → `uplift_explanations`,
/// `uplift_shap_importance`.
fn explain_offer_test(ctx: &Context, store: &mut dyn Store) -> Result<(usize, serde_json::Value)> {
    let config = &ctx.config;
    let log = OfferLog::from_tables(
        &store.read_table("offers")?,
        &store.read_table("offer_features")?,
    )?;
    let predictions = store.read_table("uplift_predictions")?;
    let explained = explain_effects(
        &log,
        &predictions,
        config.explain.top_drivers,
        config.offers.seed,
    )
    .map_err(|err| anyhow::anyhow!("offer-test explanation: {err}"))?;
    let Some(explained) = explained else {
        return Ok((0, serde_json::Value::Null));
    };
    store.write_table("uplift_explanations", &explained.explanations)?;
    store.write_table("uplift_shap_importance", &explained.importance)?;
    if !ctx.quiet {
        println!(
            "explain: the offer test's recommendation for {} customers ({}): effect models per arm, fidelity {}",
            explained.customers,
            explained.outcome,
            explained
                .fidelity
                .iter()
                .map(|(arm, r2)| format!("{arm} R² {r2:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok((
        explained.customers,
        serde_json::json!({
            "outcome": explained.outcome,
            "customers": explained.customers,
            "fidelity_r2": explained.fidelity.iter().map(|(a, r)| (a.clone(), serde_json::json!(r))).collect::<serde_json::Map<String, serde_json::Value>>(),
        }),
    ))
}

/// The cashback model's exact SHAP values, importance, drivers and charts.
fn explain_cashback(
    ctx: &Context,
    store: &mut dyn Store,
) -> Result<(usize, serde_json::Map<String, serde_json::Value>)> {
    let config = &ctx.config;
    let out_dir = &config.export.out_dir;
    let saved = SavedModel::load(&out_dir.join("cashback_model.json"))?;
    let mut features = store.read_table("customer_features")?;
    if config.explain.max_rows > 0 && features.height() > config.explain.max_rows {
        features = features.head(Some(config.explain.max_rows));
    }
    let n = features.height();
    let x = feature_matrix(&features, &saved.features)?;
    let bar = progress::bar(ctx.progress, 0, "explain: TreeSHAP");
    let shap = model_shap(&saved, &x);
    let predictions = saved.model.predict(&x);
    check_local_accuracy(&shap, &predictions, LOCAL_ACCURACY_TOLERANCE)
        .context("SHAP local accuracy failed: base + Σφ differs from the prediction")?;
    bar.finish_and_clear();
    let customer_ids = i64_column(&features, "customer_id")?;
    let n_features = saved.features.len();
    // Long table: customer × feature.
    let cells = n * n_features;
    let features_of = &saved.features;
    let values_table = Table::new(cells)
        .col(
            "customer_id",
            customer_ids
                .iter()
                .flat_map(|&c| std::iter::repeat_n(c, n_features)),
        )
        .col(
            "feature",
            (0..n).flat_map(|_| features_of.iter().map(String::as_str)),
        )
        .col("value", (0..n).flat_map(|i| x.row(i).iter().copied()))
        .col("shap", (0..n).flat_map(|i| shap.row(i).iter().copied()))
        .build()?;
    let mean_abs = shap.mean_abs();
    let order = importance_order(&mean_abs);
    let importance_table = Table::new(n_features)
        .col("feature", order.iter().map(|&j| features_of[j].as_str()))
        .col("mean_abs_shap", order.iter().map(|&j| mean_abs[j]))
        .col("rank", 1..=n_features as i64)
        .build()?;
    let clamped: Vec<f64> = predictions
        .iter()
        .map(|r| r.clamp(config.economics.rate_min, config.economics.rate_max))
        .collect();
    let explained = explain_rows(&shap, &x, features_of, &clamped, config.explain.top_drivers);
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
    store.write_table("cashback_shap_values", &values_table)?;
    store.write_table("cashback_shap_importance", &importance_table)?;
    store.write_table("cashback_explanations", &explanations_table)?;

    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let per_feature: Vec<charts::FeatureShap> = (0..n_features)
        .map(|j| charts::FeatureShap {
            feature: saved.features[j].clone(),
            values: (0..n).map(|i| x.get(i, j)).collect(),
            shap: (0..n).map(|i| shap.values[i * n_features + j]).collect(),
        })
        .collect();
    charts::shap_summary(&out_dir.join("shap_summary_plot.png"), &per_feature, 5000)?;
    let bars: Vec<(String, f64)> = order
        .iter()
        .map(|&j| (saved.features[j].clone(), mean_abs[j]))
        .collect();
    charts::shap_importance(&out_dir.join("shap_feature_importance.png"), &bars)?;
    let details = serde_json::json!({
        "family": saved.spec.family(),
        "base_value": shap.base_value,
        "top_feature": order.first().map(|&j| saved.features[j].clone()),
        "local_accuracy_tolerance": LOCAL_ACCURACY_TOLERANCE,
    });
    if !ctx.quiet {
        println!(
            "explain: exact SHAP for {n} customers × {n_features} features ({}), local accuracy ≤ {LOCAL_ACCURACY_TOLERANCE:e} relative",
            saved.spec.family()
        );
        for &j in order.iter().take(5) {
            println!(
                "  {:<24} mean |SHAP| {:.3} pp",
                saved.features[j],
                mean_abs[j] * 100.0
            );
        }
    }
    let serde_json::Value::Object(details) = details else {
        unreachable!("a JSON object literal")
    };
    Ok((n, details))
}

/// The offer test's explanation tables.
struct EffectTables {
    outcome: String,
    customers: usize,
    /// (arm, R² of its effect model) per explained arm.
    fidelity: Vec<(String, f64)>,
    explanations: DataFrame,
    importance: DataFrame,
}

/// Joins the log and the predictions, fits and explains an effect model per explained arm.
/// `None` when the predictions have no money outcome (nothing is recommended in money terms)
/// or the test has a single arm.
fn explain_effects(
    log: &OfferLog,
    predictions: &DataFrame,
    top: usize,
    seed: u64,
) -> Result<Option<EffectTables>> {
    let n = log.len();
    let k = log.arms.len();
    let outcome = crate::frame::str_column(predictions, "outcome")?;
    let cost = crate::frame::opt_f64_column(predictions, "cost")?;
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
    let arm = crate::frame::str_column(predictions, "arm")?;
    let effect_column = crate::frame::f64_column(predictions, "effect")?;
    let profit = crate::frame::opt_f64_column(predictions, "incremental_profit")?;
    let recommended = crate::frame::bool_column(predictions, "recommended")?;
    let row_of: std::collections::HashMap<i64, usize> = log
        .customer_id
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i))
        .collect();
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
