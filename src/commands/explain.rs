//! `fluz explain`: exact SHAP values of the final model for every customer (TreeSHAP for tree
//! models, exact linear SHAP for OLS), checked for local accuracy at run time; mean |φ|
//! importance, each customer's top drivers in words, and the two SHAP charts.

use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;

use super::i64_column;
use crate::error::user_error;
use crate::explain::{check_local_accuracy, ensemble_shap, linear_shap, ShapValues};
use crate::models::family::{Model, SavedModel};
use crate::report::charts;
use crate::{progress, store, Context};

/// Relative tolerance of the local-accuracy check.
pub const LOCAL_ACCURACY_TOLERANCE: f64 = 1e-9;

/// Loads the model file written by `fluz train`.
pub fn load_model(path: &std::path::Path) -> Result<SavedModel> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        user_error(format!(
            "cannot read the model file {}: {err} (run `fluz train` first)",
            path.display()
        ))
    })?;
    let saved: SavedModel = serde_json::from_str(&text).map_err(|err| {
        user_error(format!(
            "the model file {} is not a fluz model: {err} (run `fluz train` again)",
            path.display()
        ))
    })?;
    saved.check().map_err(|problem| {
        user_error(format!(
            "the model file {} is damaged: {problem} (run `fluz train` again)",
            path.display()
        ))
    })?;
    Ok(saved)
}

/// Exact SHAP values of a saved model on `x`.
pub fn shap_values(saved: &SavedModel, x: &crate::learn::matrix::Matrix) -> ShapValues {
    match &saved.model {
        Model::Linear(linear) => {
            linear_shap(linear.intercept, &linear.weights, &saved.feature_means, x)
        }
        Model::DecisionTree(tree) => ensemble_shap(std::slice::from_ref(tree), 0.0, 1.0, x),
        Model::RandomForest(forest) => ensemble_shap(
            &forest.trees,
            0.0,
            1.0 / forest.trees.len().max(1) as f64,
            x,
        ),
        Model::GradientBoosting(boosting) => {
            ensemble_shap(&boosting.trees, boosting.base_score, 1.0, x)
        }
    }
}

/// A feature value in words, e.g. "recency 212 days".
pub fn describe_value(feature: &str, value: f64) -> String {
    let thousands = |v: f64| {
        let whole = format!("{:.0}", v.abs());
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if v < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    };
    match feature {
        "recency_days" => format!("recency {value:.0} days"),
        "tenure_days" => format!("tenure {value:.0} days"),
        "total_spent" => format!("spend {}", thousands(value)),
        "avg_item_price" => format!("avg item price {value:.2}"),
        "avg_basket_value" => format!("avg basket {}", thousands(value)),
        "spend_to_price_ratio" => format!("spend/price ratio {}", thousands(value)),
        "n_invoices" => format!("{value:.0} invoices"),
        "n_lines" => format!("{value:.0} lines"),
        "total_quantity" => format!("{} items", thousands(value)),
        "social_degree" => format!("{value:.0} social connections"),
        "social_pagerank" => format!("social PageRank {value:.2e}"),
        "merchant_avg_stars" => format!("merchant stars {value:.2}"),
        "merchant_avg_reviews" => format!("merchant reviews {value:.0}"),
        "merchant_commission" => format!("merchant commission {:.2}%", value * 100.0),
        other => format!("{other} {value:.4}"),
    }
}

/// One driver in words: "recency 212 days → −1.20 pp".
pub fn driver_text(feature: &str, value: f64, shap: f64) -> String {
    let sign = if shap < 0.0 { '−' } else { '+' };
    format!(
        "{} → {sign}{:.2} pp",
        describe_value(feature, value),
        shap.abs() * 100.0
    )
}

/// Runs the stage.
pub fn run(ctx: &Context) -> Result<usize> {
    let started = Instant::now();
    let config = &ctx.config;
    let out_dir = &config.export.out_dir;
    let saved = load_model(&out_dir.join("cashback_model.json"))?;
    let mut store = store::open(config)?;
    let mut features = store.read_table("customer_features")?;
    if config.explain.max_rows > 0 && features.height() > config.explain.max_rows {
        features = features.head(Some(config.explain.max_rows));
    }
    let n = features.height();
    let x = super::train::feature_matrix(&features, &saved.features)?;
    let bar = progress::bar(ctx.progress, 0, "explain: TreeSHAP");
    let shap = shap_values(&saved, &x);
    let predictions = saved.model.predict(&x);
    check_local_accuracy(&shap, &predictions, LOCAL_ACCURACY_TOLERANCE)
        .context("SHAP local accuracy failed: base + Σφ differs from the prediction")?;
    bar.finish_and_clear();
    let customer_ids = i64_column(&features, "customer_id")?;
    let n_features = saved.features.len();
    // Long table: customer × feature.
    let mut long_customer = Vec::with_capacity(n * n_features);
    let mut long_feature = Vec::with_capacity(n * n_features);
    let mut long_value = Vec::with_capacity(n * n_features);
    let mut long_shap = Vec::with_capacity(n * n_features);
    for (i, &customer_id) in customer_ids.iter().enumerate() {
        let row = x.row(i);
        let phi = shap.row(i);
        for j in 0..n_features {
            long_customer.push(customer_id);
            long_feature.push(saved.features[j].as_str());
            long_value.push(row[j]);
            long_shap.push(phi[j]);
        }
    }
    let values_table = DataFrame::new(
        n * n_features,
        vec![
            Column::new("customer_id".into(), long_customer),
            Column::new("feature".into(), long_feature),
            Column::new("value".into(), long_value),
            Column::new("shap".into(), long_shap),
        ],
    )?;
    let mean_abs = shap.mean_abs();
    let mut order: Vec<usize> = (0..n_features).collect();
    order.sort_by(|&a, &b| mean_abs[b].total_cmp(&mean_abs[a]).then(a.cmp(&b)));
    let importance_table = DataFrame::new(
        n_features,
        vec![
            Column::new(
                "feature".into(),
                order
                    .iter()
                    .map(|&j| saved.features[j].clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "mean_abs_shap".into(),
                order.iter().map(|&j| mean_abs[j]).collect::<Vec<_>>(),
            ),
            Column::new("rank".into(), (1..=n_features as i64).collect::<Vec<_>>()),
        ],
    )?;
    let top = config.explain.top_drivers;
    let mut drivers: [Vec<String>; 3] = Default::default();
    let mut explanations = Vec::with_capacity(n);
    let clamped: Vec<f64> = predictions
        .iter()
        .map(|r| r.clamp(config.economics.rate_min, config.economics.rate_max))
        .collect();
    for (i, &rate) in clamped.iter().enumerate() {
        let phi = shap.row(i);
        let row = x.row(i);
        let mut by_size: Vec<usize> = (0..n_features).collect();
        by_size.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()).then(a.cmp(&b)));
        let texts: Vec<String> = by_size
            .iter()
            .take(top.max(3))
            .map(|&j| driver_text(&saved.features[j], row[j], phi[j]))
            .collect();
        for (slot, column) in drivers.iter_mut().enumerate() {
            column.push(texts.get(slot).cloned().unwrap_or_default());
        }
        explanations.push(format!(
            "Recommended {:.2}% (average customer {:.2}%): {}",
            rate * 100.0,
            shap.base_value * 100.0,
            texts
                .iter()
                .take(top)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let [d1, d2, d3] = drivers;
    let explanations_table = DataFrame::new(
        n,
        vec![
            Column::new("customer_id".into(), customer_ids.clone()),
            Column::new("predicted_rate".into(), clamped),
            Column::new("base_rate".into(), vec![shap.base_value; n]),
            Column::new("driver_1".into(), d1),
            Column::new("driver_2".into(), d2),
            Column::new("driver_3".into(), d3),
            Column::new("explanation".into(), explanations),
        ],
    )?;
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
        store.as_mut(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_read_as_words() {
        assert_eq!(
            driver_text("recency_days", 212.0, -0.012),
            "recency 212 days → −1.20 pp"
        );
        assert_eq!(
            driver_text("total_spent", 12_345.6, 0.004),
            "spend 12,346 → +0.40 pp"
        );
    }
}
