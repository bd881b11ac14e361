//! `fluz explain`: exact SHAP values of the final model for every customer (TreeSHAP for tree
//! models, exact linear SHAP for OLS), checked for local accuracy at run time; mean |φ|
//! importance, each customer's top drivers in words, and the two SHAP charts.

use std::time::Instant;

use anyhow::{Context as _, Result};

use super::table::{feature_matrix, i64_column};
use crate::explain::tables::{cashback_tables, effect_tables};
use crate::explain::{check_local_accuracy, model_shap, LOCAL_ACCURACY_TOLERANCE};
use crate::models::family::SavedModel;
use crate::report::charts;
use crate::sources::offers::OfferLog;
use crate::store::Store;
use crate::{progress, Context};

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
    let explained = effect_tables(
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
    let e = &config.economics;
    let tables = cashback_tables(
        &customer_ids,
        &saved.features,
        &x,
        &shap,
        &predictions,
        (e.rate_min.get(), e.rate_max.get()),
        config.explain.top_drivers,
    )?;
    let (mean_abs, order) = (&tables.mean_abs, &tables.order);
    store.write_table("cashback_shap_values", &tables.values)?;
    store.write_table("cashback_shap_importance", &tables.importance)?;
    store.write_table("cashback_explanations", &tables.explanations)?;

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
    crate::report::pngs::shap_importance(out_dir, &bars)?;
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
