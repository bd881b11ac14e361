//! `fluz export`: every table as `<out_dir>/<table>.csv`, `run_manifest.json` (version,
//! resolved config, input checksums and row counts, per-stage timings) and `dashboard.html`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;
use serde_json::json;

use crate::report::csv_export::write_csv;
use crate::report::dashboard;
use crate::report::dashboard_data;
use crate::report::manifest;
use crate::report::{write_atomic, write_atomic_with};
use crate::store::Store;
use crate::Context;

/// Every table of the store, in pipeline order.
pub const TABLES: [&str; 33] = [
    "transactions",
    "social_edges",
    "merchants",
    "ingest_report",
    "customer_features",
    "customer_value",
    "clv_model",
    "clv_holdout",
    "customer_segments",
    "segment_profiles",
    "k_selection",
    "model_grid",
    "model_comparison",
    "cashback_predictions",
    "cashback_feature_importance",
    "cashback_shap_importance",
    "cashback_shap_values",
    "cashback_explanations",
    "merchant_cashback",
    "budget_allocation",
    "budget_curve",
    "budget_curve_arms",
    "budget_flat_policies",
    "budget_summary",
    "offers",
    "offer_features",
    "offers_truth",
    "uplift_predictions",
    "uplift_metrics",
    "uplift_curve",
    "uplift_explanations",
    "uplift_shap_importance",
    "run_manifest",
];

/// The charts the stages draw into the output folder.
pub(crate) const CHARTS: [&str; 8] = [
    "analytics_summary.png",
    "clv_holdout.png",
    "k_selection.png",
    "segments.png",
    "shap_summary_plot.png",
    "shap_feature_importance.png",
    "budget_curve.png",
    "qini.png",
];

fn maybe(store: &mut dyn Store, name: &str) -> Result<Option<DataFrame>> {
    if store.has_table(name)? {
        Ok(Some(store.read_table(name)?))
    } else {
        Ok(None)
    }
}

/// Runs the stage; returns the output folder's files written.
pub fn run(ctx: &Context, store: &mut dyn Store) -> Result<Vec<String>> {
    let started = Instant::now();
    let config = &ctx.config;
    let out_dir = &config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    // The inputs' checksums for the manifest are computed on a thread of their own while the
    // tables are written (at 10M lines the retail file alone is 0.3 s of SHA-256).
    let sources = [
        ("retail", config.data.retail.clone()),
        ("social", config.data.social.clone()),
        ("merchants", config.data.merchants.clone()),
    ];
    let hashing = std::thread::spawn(move || {
        sources.map(|(source, path)| {
            let hash = manifest::sha256_file(&path).ok();
            (source, path, hash)
        })
    });
    let mut written = Vec::new();
    let mut tables: HashMap<&str, DataFrame> = HashMap::new();
    let mut row_counts = serde_json::Map::new();
    for name in TABLES {
        if name == "cashback_shap_values" && !config.export.shap_values_csv {
            continue;
        }
        let Some(table) = maybe(store, name)? else {
            tracing::warn!("table {name} is not in the store yet; skipping its CSV");
            continue;
        };
        let file = format!("{name}.csv");
        write_atomic_with(&out_dir.join(&file), |out| write_csv(&table, out))?;
        row_counts.insert(name.to_string(), json!(table.height()));
        written.push(file);
        // The line-level tables are not needed by the dashboard.
        if name != "transactions" && name != "social_edges" {
            tables.insert(name, table);
        }
    }
    for chart in CHARTS {
        if out_dir.join(chart).exists() {
            written.push(chart.to_string());
        }
    }

    // Manifest.
    let hashed = hashing
        .join()
        .map_err(|_| anyhow::anyhow!("hashing the input files failed"))?;
    let inputs = manifest::inputs(hashed, tables.get("ingest_report"))?;
    let stages = manifest::stages(
        tables.get("run_manifest"),
        started.elapsed(),
        written.len() + 2,
    )?;
    let mut shown = config.clone();
    shown.store.url = crate::config::redact_url(&shown.store.url);
    let manifest = json!({
        "fluz_version": env!("CARGO_PKG_VERSION"),
        "generated_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "store": { "kind": store.kind(), "location": store.location() },
        "config": shown,
        "inputs": inputs,
        "stages": stages,
        "tables": row_counts,
        "files": written,
    });
    write_atomic(
        &out_dir.join("run_manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    written.push("run_manifest.json".into());

    let data = dashboard_data::assemble(
        &super::params::dashboard(config),
        &tables,
        &stages,
        store.kind(),
    )?;
    write_atomic(
        &out_dir.join("dashboard.html"),
        dashboard::render_dashboard(&data).as_bytes(),
    )?;
    written.push("dashboard.html".into());
    super::record_stage(
        store,
        "export",
        started,
        written.len(),
        json!({ "files": written.len() }),
    )?;
    if !ctx.quiet {
        println!("export: {} files in {}", written.len(), out_dir.display());
    }
    Ok(written)
}
