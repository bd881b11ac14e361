//! `fluz eda`: build and store `customer_features` (polars, or SQL push-down in PostgreSQL
//! or on a Spark cluster),
//! then describe it: shape, nulls, statistics, IQR outliers on spend, top countries — printed,
//! saved as `eda_summary.json` and drawn as `analytics_summary.png`.

use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;

use super::f64_column;
use crate::config::Config;
use crate::features::customers::customer_features;
use crate::features::pushdown::customer_features_pushdown;
use crate::features::summary::{summarise, EdaSummary};
use crate::report::charts;
use crate::store::Store;
use crate::{progress, Context};

/// Builds `customer_features` from the stored transactions and stores it.
pub(crate) fn build_features(config: &Config, store: &mut dyn Store) -> Result<DataFrame> {
    let params = super::params::feature_params(config);
    let edges = store.read_table("social_edges")?;
    let merchants = store.read_table("merchants")?;
    let pushdown = super::params::feature_pushdown(config);
    let started = std::time::Instant::now();
    let features = if pushdown {
        if !store.has_table("transactions")? {
            store.read_table("transactions")?;
        }
        let mut runner = store
            .sql_runner()?
            .context("push-down needs the PostgreSQL or Spark store")?;
        let features = customer_features_pushdown(runner.as_mut(), &edges, &merchants, &params)?;
        runner.finish()?;
        features
    } else {
        let transactions = store.read_columns(
            "transactions",
            crate::features::customers::TRANSACTION_COLUMNS,
        )?;
        customer_features(&transactions, &edges, &merchants, &params)?
    };
    tracing::debug!(
        "customer_features: {} customers in {:.3}s ({})",
        features.height(),
        started.elapsed().as_secs_f64(),
        if pushdown { store.kind() } else { "polars" }
    );
    store.write_table("customer_features", &features)?;
    Ok(features)
}

fn print_summary(summary: &EdaSummary) {
    println!(
        "customers {}  ×  {} columns   transactions {}   revenue {:.2}",
        summary.customers, summary.columns, summary.transactions, summary.revenue
    );
    println!(
        "{:<22} {:>8} {:>6} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "column", "count", "nulls", "mean", "std", "min", "25%", "50%", "75%", "max"
    );
    for d in &summary.describe {
        println!(
            "{:<22} {:>8} {:>6} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4}",
            d.column, d.count, d.nulls, d.mean, d.std, d.min, d.q25, d.median, d.q75, d.max
        );
    }
    let o = &summary.spend_outliers;
    println!(
        "high-spend outliers (total_spent > Q3 + 1.5·IQR = {:.4}): {}   low: {}",
        o.upper_fence, o.high, o.low
    );
    let countries: Vec<String> = summary
        .top_countries
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    println!("top countries: {}", countries.join(", "));
}

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<EdaSummary> {
    let started = Instant::now();
    let bar = progress::bar(ctx.progress, 0, "customer features");
    let features = build_features(&ctx.config, store)?;
    bar.set_message("eda summary");
    let summary = summarise(&features, ctx.config.eda.top_countries)?;
    let out_dir = &ctx.config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let json_path = out_dir.join("eda_summary.json");
    crate::report::write_atomic(
        &json_path,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let spend = f64_column(&features, "total_spent")?;
    let price = f64_column(&features, "avg_item_price")?;
    charts::analytics_summary(
        &out_dir.join("analytics_summary.png"),
        &charts::SpendOverview {
            total_spent: &spend,
            avg_item_price: &price,
            upper_fence: summary.spend_outliers.upper_fence,
            countries: &summary.top_countries,
        },
    )?;
    bar.finish_and_clear();
    super::record_stage(
        store,
        "eda",
        started,
        features.height(),
        serde_json::json!({
            "customers": summary.customers,
            "mean_spend": summary.mean_spend,
            "high_spend_outliers": summary.spend_outliers.high,
            "pushdown": super::params::feature_pushdown(&ctx.config),
        }),
    )?;
    if !ctx.quiet {
        print_summary(&summary);
        println!("wrote {} and analytics_summary.png", json_path.display());
    }
    Ok(summary)
}
