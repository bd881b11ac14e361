//! `fluz allocate`: spend a cashback budget where it earns most (issue 17). Reads the
//! per-(customer, arm) values from `uplift_predictions` (with `offers`), from the economic model
//! (`--source model`) or from a CSV (`--values FILE --out DIR`, no store), calls
//! [`crate::budget::plan`] (budget precedence, solve, tables, run-all's choice of source) and
//! writes the five tables and `budget_curve.png`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::DataFrame;

use crate::budget;
pub(crate) use crate::budget::plan::AllocateOutcome;
use crate::budget::plan::Planned;
pub(crate) use crate::budget::sources::BudgetAsk;
use crate::budget::sources::{self, AllocationInput};
use crate::budget::tables::TABLES;
use crate::error::user_error;
use crate::report::console;
use crate::report::csv_export::write_csv;
use crate::report::write_atomic_with;
use crate::store::Store;
use crate::Context;

/// Where the values come from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Source {
    /// `uplift_predictions` when the store has it, else the model (run-all).
    Auto,
    Uplift,
    Model,
    /// A CSV file; outputs go to the folder.
    Values {
        file: PathBuf,
        out: PathBuf,
    },
}

/// One `allocate` invocation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Request {
    pub source: Source,
    /// Overrides `[budget]`.
    pub budget: Option<BudgetAsk>,
}

impl Request {
    /// What `run-all` asks: the automatic source, the configured budget.
    pub(crate) fn run_all() -> Self {
        Self {
            source: Source::Auto,
            budget: None,
        }
    }
}

/// The offer test's learned values (and its log, when stored).
fn read_uplift(store: &mut dyn Store) -> Result<AllocationInput> {
    if !store.has_table("uplift_predictions")? {
        return Err(user_error(
            "table uplift_predictions is not in the store: run `fluz uplift` first, or allocate from the economic model with `--source model`, or from your own CSV with `--values FILE --out DIR`",
        ));
    }
    let predictions = store.read_table("uplift_predictions")?;
    let offers = if store.has_table("offers")? {
        Some(store.read_table("offers")?)
    } else {
        None
    };
    sources::from_uplift(&predictions, offers.as_ref())
}

/// The economic model through the trained model's predictions.
fn read_model(ctx: &Context, store: &mut dyn Store) -> Result<AllocationInput> {
    let predictions = store.read_columns(
        "cashback_predictions",
        &["customer_id", "margin", "predicted_rate"],
    )?;
    let features = store.read_columns("customer_features", &["customer_id", "total_spent"])?;
    let params = super::params::model_arms(&ctx.config);
    sources::from_model(&predictions, &features, &params)
}

/// The budget, the allocation and its tables.
fn solve(ctx: &Context, request: &Request, input: &AllocationInput) -> Result<Planned> {
    let params = super::params::budget_plan(&ctx.config, request.budget);
    budget::plan::plan_and_assemble(input, &params, &super::params::budget_tables(&ctx.config))
}

/// `budget_curve.png`: the curve, the flat policies and the chosen allocation, drawn from the
/// tables just built (the dashboard draws the same figure from the store).
fn draw_chart(ctx: &Context, out_dir: &Path, solved: &Planned) -> Result<()> {
    let tables: HashMap<&str, DataFrame> = TABLES
        .iter()
        .copied()
        .zip(solved.assembled.tables.iter().cloned())
        .collect();
    crate::report::pngs::budget_curve(out_dir, &tables, &ctx.config.export.currency)?;
    Ok(())
}

/// The printed summary (nothing with `--quiet`).
fn report(ctx: &Context, input: &AllocationInput, solved: &Planned, written_to: &str) {
    if !ctx.quiet {
        print!(
            "{}",
            console::allocate_summary(
                input,
                &solved.plan,
                &solved.basis,
                &solved.assembled,
                written_to
            )
        );
    }
}

/// `fluz allocate` on the store (the `uplift_predictions` or model source).
pub(crate) fn run(
    ctx: &Context,
    store: &mut dyn Store,
    request: &Request,
) -> Result<AllocateOutcome> {
    let started = Instant::now();
    let input = match &request.source {
        Source::Uplift => read_uplift(store)?,
        Source::Model => read_model(ctx, store)?,
        // run-all: the learned effects when the offer test has run and they can price the
        // budget, else the model ([`budget::plan::offer_test_or_model`]).
        Source::Auto => {
            let offer_test = if store.has_table("uplift_predictions")? {
                Some(read_uplift(store)?)
            } else {
                None
            };
            let budget = super::params::budget_plan(&ctx.config, request.budget).budget;
            budget::plan::offer_test_or_model(offer_test, &budget, || read_model(ctx, store))?
        }
        Source::Values { .. } => anyhow::bail!("--values goes to allocate::run_values"),
    };
    let solved = solve(ctx, request, &input)?;
    let out_dir = &ctx.config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    draw_chart(ctx, out_dir, &solved)?;
    for (name, table) in TABLES.iter().zip(&solved.assembled.tables) {
        store.write_table(name, table)?;
    }
    let plan = &solved.plan;
    super::record_stage(
        store,
        "allocate",
        started,
        plan.allocation.len(),
        solved.details(&input.source),
    )?;
    report(
        ctx,
        &input,
        &solved,
        &format!("tables in the store, chart in {}", out_dir.display()),
    );
    Ok(solved.outcome(&input))
}

/// `fluz allocate --values FILE --out DIR`: no store; the tables go to DIR as CSV files.
pub(crate) fn run_values(
    ctx: &Context,
    file: &Path,
    out: &Path,
    request: &Request,
) -> Result<AllocateOutcome> {
    let started = Instant::now();
    let input = sources::from_values_file(file, ctx.config.ingest.max_decompressed_bytes)?;
    tracing::info!(
        "allocate: read and parsed {} in {:.3}s",
        file.display(),
        started.elapsed().as_secs_f64()
    );
    let solved = solve(ctx, request, &input)?;
    let written = Instant::now();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, table) in TABLES.iter().zip(&solved.assembled.tables) {
        write_atomic_with(&out.join(format!("{name}.csv")), |w| write_csv(table, w))?;
    }
    draw_chart(ctx, out, &solved)?;
    tracing::info!(
        "allocate: CSV files and chart written in {:.3}s",
        written.elapsed().as_secs_f64()
    );
    report(
        ctx,
        &input,
        &solved,
        &format!("CSV files and budget_curve.png in {}", out.display()),
    );
    Ok(solved.outcome(&input))
}
