//! `fluz eda`: build and store `customer_features` (polars, or SQL push-down in PostgreSQL),
//! then describe it: shape, nulls, statistics, IQR outliers on spend, top countries — printed,
//! saved as `eda_summary.json` and drawn as `analytics_summary.png`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;
use serde::Serialize;

use super::{f64_column, str_column};
use crate::config::{Config, StoreKind};
use crate::features::customers::{customer_features, FeatureParams};
use crate::features::describe::{describe, iqr_outliers, Describe, Outliers};
use crate::features::pushdown::customer_features_pushdown;
use crate::report::charts;
use crate::store::Store;
use crate::{progress, store, Context};

/// Linkage and commission parameters from the config.
pub fn feature_params(config: &Config) -> FeatureParams {
    FeatureParams {
        seed: config.linkage.seed,
        merchant_categories: config.linkage.merchant_categories.clone(),
        commission_base: config.economics.commission_base,
        commission_stars_slope: config.economics.commission_stars_slope,
        commission_min: config.economics.commission_min,
        commission_max: config.economics.commission_max,
    }
}

/// Builds `customer_features` from the stored transactions and stores it.
pub fn build_features(config: &Config, store: &mut dyn Store) -> Result<DataFrame> {
    let params = feature_params(config);
    let edges = store.read_table("social_edges")?;
    let merchants = store.read_table("merchants")?;
    let pushdown = config.store.kind == StoreKind::Postgres && config.store.pushdown;
    let started = std::time::Instant::now();
    let features = if pushdown {
        if !store.has_table("transactions")? {
            store.read_table("transactions")?;
        }
        let schema = config.store.schema.clone();
        let client = store
            .postgres()
            .context("push-down needs the PostgreSQL store")?;
        customer_features_pushdown(client, &schema, &edges, &merchants, &params)?
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
        if pushdown { "push-down SQL" } else { "polars" }
    );
    store.write_table("customer_features", &features)?;
    Ok(features)
}

/// The EDA summary saved as `eda_summary.json`.
#[derive(Debug, Serialize)]
pub struct EdaSummary {
    pub customers: usize,
    pub columns: usize,
    pub transactions: usize,
    pub revenue: f64,
    pub mean_spend: f64,
    pub median_spend: f64,
    pub nulls: Vec<(String, usize)>,
    pub describe: Vec<Describe>,
    pub spend_outliers: Outliers,
    pub top_countries: Vec<(String, usize)>,
}

/// Computes the summary of `customer_features`.
pub fn summarise(features: &DataFrame, top_countries: usize) -> Result<EdaSummary> {
    let mut describes = Vec::new();
    let mut nulls = Vec::new();
    for column in features.columns() {
        nulls.push((column.name().to_string(), column.null_count()));
        if column.dtype().is_primitive_numeric() {
            describes.push(describe(
                column.name(),
                &f64_column(features, column.name())?,
            ));
        }
    }
    let spend = f64_column(features, "total_spent")?;
    let lines = f64_column(features, "n_lines")?;
    let outliers = iqr_outliers("total_spent", &spend);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for country in str_column(features, "country")? {
        *counts.entry(country).or_default() += 1;
    }
    let mut countries: Vec<(String, usize)> = counts.into_iter().collect();
    countries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    countries.truncate(top_countries);
    let spend_describe = describe("total_spent", &spend);
    Ok(EdaSummary {
        customers: features.height(),
        columns: features.width(),
        transactions: lines.iter().sum::<f64>() as usize,
        revenue: spend.iter().sum(),
        mean_spend: spend_describe.mean,
        median_spend: spend_describe.median,
        nulls,
        describe: describes,
        spend_outliers: outliers,
        top_countries: countries,
    })
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
pub fn run(ctx: &Context) -> Result<EdaSummary> {
    let started = Instant::now();
    let mut store = store::open(&ctx.config)?;
    let bar = progress::bar(ctx.progress, 0, "customer features");
    let features = build_features(&ctx.config, store.as_mut())?;
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
        store.as_mut(),
        "eda",
        started,
        features.height(),
        serde_json::json!({
            "customers": summary.customers,
            "mean_spend": summary.mean_spend,
            "high_spend_outliers": summary.spend_outliers.high,
            "pushdown": ctx.config.store.kind == StoreKind::Postgres && ctx.config.store.pushdown,
        }),
    )?;
    if !ctx.quiet {
        print_summary(&summary);
        println!("wrote {} and analytics_summary.png", json_path.display());
    }
    Ok(summary)
}
