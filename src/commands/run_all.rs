//! `fluz run-all`: ingest → eda → segment → train → explain → simulate-offers → uplift →
//! export, then one summary.

use std::time::Instant;

use anyhow::Result;

use crate::Context;

/// Runs every stage in order.
pub fn run(ctx: &Context) -> Result<()> {
    let started = Instant::now();
    let stage_ctx = Context {
        quiet: true,
        ..ctx.clone()
    };
    let bar = crate::progress::bar(ctx.progress, 7, "run-all");
    let report = super::ingest::run(&stage_ctx)?;
    bar.inc(1);
    let eda = super::eda::run(&stage_ctx)?;
    bar.inc(1);
    let segment = super::segment::run(&stage_ctx)?;
    bar.inc(1);
    let train = super::train::run(&stage_ctx)?;
    bar.inc(1);
    let explained = super::explain::run(&stage_ctx)?;
    bar.inc(1);
    // The offer test: simulated on the store's customers unless `[offers] log` names a real one.
    let uplift = {
        let mut store = crate::store::open(&ctx.config)?;
        if ctx.config.offers.log.as_os_str().is_empty() {
            super::simulate_offers::run(&stage_ctx, store.as_mut())?;
        }
        super::uplift::run(&stage_ctx, store.as_mut())?
    };
    bar.inc(1);
    let files = super::export::run(&stage_ctx)?;
    bar.finish_and_clear();
    if ctx.quiet {
        return Ok(());
    }
    let rows = |source: &str| {
        report
            .iter()
            .filter(|s| s.source == source)
            .map(|s| format!("{}", s.rows))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    println!(
        "fluz run-all finished in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    println!("  retail lines   {}", rows("retail"));
    println!("  social edges   {}", rows("social"));
    println!("  merchants      {}", rows("merchants"));
    println!(
        "  customers      {} (mean spend {:.2}, {} high-spend outliers)",
        eda.customers, eda.mean_spend, eda.spend_outliers.high
    );
    let best = segment.k_rows.iter().find(|r| r.best);
    println!(
        "  segments       best k = {} (silhouette {:.3}, smallest cluster {}): {}",
        segment.best_k,
        best.map_or(f64::NAN, |r| r.silhouette),
        best.map_or(0, |r| r.min_cluster_size),
        segment.personas.join(", ")
    );
    println!(
        "  final model    {} — test RMSE {:.5}, R² {:.4}",
        train.final_family, train.test_rmse, train.test_r2
    );
    let p = &train.policy_test;
    println!(
        "  policy (test)  regret vs oracle {:.2}%, flat {:.1}% regret {:.2}%, value {:.2} vs flat {:.2}",
        p.regret_pct,
        p.flat_rate * 100.0,
        p.flat_regret_pct,
        p.value_predicted,
        p.value_flat
    );
    println!("  explained      {explained} customers (exact SHAP)");
    for outcome in &uplift.outcomes {
        println!(
            "  offer test     {} customers, {}: {}",
            uplift.customers, outcome.outcome, outcome.recommendation
        );
    }
    println!(
        "  outputs        {} files in {} (open dashboard.html)",
        files.len(),
        ctx.config.export.out_dir.display()
    );
    Ok(())
}
