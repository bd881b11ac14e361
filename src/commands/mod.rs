//! One file per subcommand. Each reads its inputs from the store, calls domain code and
//! writes its outputs to the store; only this layer knows about the store and the progress.

pub(crate) mod allocate;
pub(crate) mod clv;
pub(crate) mod eda;
pub(crate) mod explain;
pub mod export;
pub(crate) mod generate;
pub(crate) mod ingest;
pub mod params;
pub(crate) mod run_all;
pub(crate) mod segment;
pub(crate) mod simulate_offers;
pub(crate) mod table;
pub(crate) mod train;
pub(crate) mod uplift;

pub(crate) use table::{f64_column, i64_column};

use std::time::Instant;

use crate::config::{Config, Engagement};
use crate::models::economics::EconomicInputs;
use crate::store::Store;
use anyhow::Result;
use polars::prelude::DataFrame;
use table::Table;

/// The economic model's per-customer inputs from `customer_features`, with each customer's
/// engagement value as `[economics] engagement` says (`customer_value` read for "clv") — one
/// reading for `train` and `simulate-offers`, so the simulated truth is the target's.
pub(crate) fn economic_inputs(
    config: &Config,
    store: &mut dyn Store,
    features: &DataFrame,
) -> Result<EconomicInputs> {
    let inputs = EconomicInputs::from_features(features)?;
    if config.economics.engagement == Engagement::Flat {
        return Ok(inputs);
    }
    let customer_value = store.read_columns("customer_value", &["customer_id", "clv"])?;
    inputs.with_clv_engagement(config.economics.engagement_value, &customer_value)
}

/// Records a stage's wall time and output rows in the `run_manifest` table (one row per stage,
/// replaced when the stage runs again).
pub(crate) fn record_stage(
    store: &mut dyn Store,
    stage: &str,
    started: Instant,
    rows_out: usize,
    details: serde_json::Value,
) -> Result<()> {
    let seconds = started.elapsed().as_secs_f64();
    let started_at = chrono::Utc::now() - chrono::Duration::milliseconds((seconds * 1000.0) as i64);
    let mut stages: Vec<String> = Vec::new();
    let mut starts: Vec<String> = Vec::new();
    let mut secs: Vec<f64> = Vec::new();
    let mut rows: Vec<i64> = Vec::new();
    let mut detail: Vec<String> = Vec::new();
    if store.has_table("run_manifest")? {
        let old = store.read_table("run_manifest")?;
        let s = old.column("stage")?.str()?;
        let a = old.column("started_at")?.str()?;
        let t = old.column("seconds")?.f64()?;
        let r = old.column("rows_out")?.i64()?;
        let d = old.column("details")?.str()?;
        for i in 0..old.height() {
            if s.get(i) == Some(stage) {
                continue;
            }
            stages.push(s.get(i).unwrap_or("").to_string());
            starts.push(a.get(i).unwrap_or("").to_string());
            secs.push(t.get(i).unwrap_or(0.0));
            rows.push(r.get(i).unwrap_or(0));
            detail.push(d.get(i).unwrap_or("{}").to_string());
        }
    }
    stages.push(stage.to_string());
    starts.push(started_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    secs.push(seconds);
    rows.push(rows_out as i64);
    detail.push(details.to_string());
    let order = [
        "ingest",
        "eda",
        "clv",
        "segment",
        "train",
        "explain",
        "simulate-offers",
        "uplift",
        "allocate",
        "export",
    ];
    let mut index: Vec<usize> = (0..stages.len()).collect();
    index.sort_by_key(|&i| {
        order
            .iter()
            .position(|s| *s == stages[i])
            .unwrap_or(order.len())
    });
    let table = Table::new(index.len())
        .col("stage", index.iter().map(|&i| stages[i].as_str()))
        .col("started_at", index.iter().map(|&i| starts[i].as_str()))
        .col("seconds", index.iter().map(|&i| secs[i]))
        .col("rows_out", index.iter().map(|&i| rows[i]))
        .col("details", index.iter().map(|&i| detail[i].as_str()))
        .build()?;
    store.write_table("run_manifest", &table)
}
