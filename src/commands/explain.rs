//! `fluz explain`: exact SHAP values of the final model for every customer (TreeSHAP for tree
//! models, exact linear SHAP for OLS), checked for local accuracy at run time; mean |φ|
//! importance, each customer's top drivers in words, and the two SHAP charts.

use std::time::Instant;

use anyhow::{Context as _, Result};

use super::table::{feature_matrix, i64_column, Table};
use crate::explain::drivers::{explain_rows, importance_order};
use crate::explain::{check_local_accuracy, model_shap};
use crate::models::family::SavedModel;
use crate::report::charts;
use crate::store::Store;
use crate::{progress, Context};

/// Relative tolerance of the local-accuracy check.
pub const LOCAL_ACCURACY_TOLERANCE: f64 = 1e-9;

/// Runs the stage.
pub fn run(ctx: &Context, store: &mut dyn Store) -> Result<usize> {
    let started = Instant::now();
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
    super::record_stage(
        store,
        "explain",
        started,
        n,
        serde_json::json!({
            "family": saved.spec.family(),
            "base_value": shap.base_value,
            "top_feature": order.first().map(|&j| saved.features[j].clone()),
            "local_accuracy_tolerance": LOCAL_ACCURACY_TOLERANCE,
        }),
    )?;
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
    Ok(n)
}
