//! `fluz ingest`: read the three sources, clean them, store `transactions`, `social_edges`,
//! `merchants` and `ingest_report`. All three are parsed and checked before anything is
//! written, so bad input never replaces a good table.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use polars::prelude::*;
use tracing::info;

use super::table::Table;
use crate::sources::{self, retail, ReadOptions, StepCount};
use crate::store::Store;
use crate::{progress, Context};

/// The ingested tables, before they are stored.
pub(crate) struct Ingested {
    pub transactions: DataFrame,
    pub social_edges: DataFrame,
    pub merchants: DataFrame,
    pub report: Vec<StepCount>,
}

fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// Reads and cleans all sources (no store involved).
pub(crate) fn read_sources(ctx: &Context) -> Result<Ingested> {
    let config = &ctx.config;
    let options = ReadOptions {
        on_bad_row: config.ingest.on_bad_row,
        max_decompressed_bytes: config.ingest.max_decompressed_bytes,
    };
    let bar = progress::bar(ctx.progress, 3, "ingest");
    let started = Instant::now();
    let parsed = if is_xlsx(&config.data.retail) {
        sources::xlsx::read_xlsx(&config.data.retail, &config.data.retail_sheet, options)?
    } else {
        retail::read_csv(&config.data.retail, config.ingest.encoding, options)?
    };
    if let Some(first) = &parsed.bad_rows.first {
        tracing::warn!(
            "skipped {} bad retail rows; the first: {first}",
            parsed.bad_rows.count
        );
    }
    let (transactions, mut report) = retail::clean(parsed, config.ingest.dedupe)?;
    info!(
        "retail: {} lines kept in {:.3}s",
        transactions.height(),
        started.elapsed().as_secs_f64()
    );
    bar.inc(1);
    let (social_edges, social_steps) = sources::social::read_edges(&config.data.social, options)?;
    report.extend(social_steps);
    bar.inc(1);
    let (merchants, merchant_steps) =
        sources::merchants::read_merchants(&config.data.merchants, options)?;
    report.extend(merchant_steps);
    bar.finish_and_clear();
    Ok(Ingested {
        transactions,
        social_edges,
        merchants,
        report,
    })
}

/// The `ingest_report` table.
pub(crate) fn report_table(report: &[StepCount]) -> Result<DataFrame> {
    Table::new(report.len())
        .col("source", report.iter().map(|s| s.source))
        .col("step", report.iter().map(|s| s.step))
        .col("rows", report.iter().map(|s| s.rows as i64))
        .build()
}

/// Runs the stage; returns the report.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<Vec<StepCount>> {
    let started = Instant::now();
    let ingested = read_sources(ctx)?;
    store.write_table("transactions", &ingested.transactions)?;
    store.write_table("social_edges", &ingested.social_edges)?;
    store.write_table("merchants", &ingested.merchants)?;
    store.write_table("ingest_report", &report_table(&ingested.report)?)?;
    let customers = ingested.transactions.column("customer_id")?.n_unique()?;
    super::record_stage(
        store,
        "ingest",
        started,
        ingested.transactions.height(),
        serde_json::json!({
            "transactions": ingested.transactions.height(),
            "customers": customers,
            "social_edges": ingested.social_edges.height(),
            "merchants": ingested.merchants.height(),
        }),
    )?;
    if !ctx.quiet {
        println!("ingest → {} ({})", store.location(), store.kind());
        println!("{:<10} {:<26} {:>10}", "source", "step", "rows");
        for step in &ingested.report {
            println!("{:<10} {:<26} {:>10}", step.source, step.step, step.rows);
        }
        println!(
            "{customers} customers; {:.2}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ingested.report)
}
