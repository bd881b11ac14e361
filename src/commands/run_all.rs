//! `fluz run-all`: ingest → eda → clv → segment → train → simulate-offers → uplift → explain →
//! allocate → export, then one summary.

use std::time::Instant;

use anyhow::Result;

use crate::store::Store;
use crate::Context;

/// Runs every stage in order in one store session: the lock taken when `store` was opened is
/// held from the first read to the last write, so no other run can write between two stages.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<()> {
    let started = Instant::now();
    let stage_ctx = Context {
        quiet: true,
        ..ctx.clone()
    };
    let bar = crate::progress::bar(ctx.progress, 9, "run-all");
    let report = super::ingest::run(&stage_ctx, store)?;
    between_stages("ingest");
    bar.inc(1);
    let eda = super::eda::run(&stage_ctx, store)?;
    between_stages("eda");
    bar.inc(1);
    let clv = super::clv::run(&stage_ctx, store)?;
    between_stages("clv");
    bar.inc(1);
    let segment = super::segment::run(&stage_ctx, store)?;
    between_stages("segment");
    bar.inc(1);
    let train = super::train::run(&stage_ctx, store)?;
    between_stages("train");
    bar.inc(1);
    // The offer test: simulated on the store's customers unless `[offers] log` names a real one.
    if ctx.config.offers.log.as_os_str().is_empty() {
        super::simulate_offers::run(&stage_ctx, store)?;
        between_stages("simulate-offers");
    }
    let uplift = super::uplift::run(&stage_ctx, store)?;
    between_stages("uplift");
    bar.inc(1);
    // After the offer test, so that it explains the learned recommendation too.
    let explained = super::explain::run(&stage_ctx, store)?;
    between_stages("explain");
    bar.inc(1);
    // The budget after the offer test, so that it spends on the learned effects.
    let allocated = super::allocate::run(&stage_ctx, store, &super::allocate::Request::run_all())?;
    between_stages("allocate");
    bar.inc(1);
    let files = super::export::run(&stage_ctx, store)?;
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
    println!(
        "  lifetime value BG/NBD on {} customers, total CLV {:.2}{}",
        clv.customers,
        clv.total_clv.unwrap_or(0.0),
        clv.holdout
            .map_or(String::new(), |(actual, expected, _)| format!(
                "; holdout {actual:.0} purchases observed, {expected:.1} expected"
            ))
    );
    println!(
        "  budget         {:.2} from {}: value {:.2}, λ {:.4}; {}",
        allocated.budget,
        allocated.source,
        allocated.integer_value,
        allocated.lambda,
        allocated.sentence
    );
    if let Some(held_out) = &allocated.held_out {
        println!("                 checked {held_out}");
    }
    println!("  explained      {explained} customers (exact SHAP)");
    for outcome in &uplift.outcomes {
        println!(
            "  offer test     {} customers, {}: {}",
            uplift.customers, outcome.outcome, outcome.recommendation
        );
    }
    if let Some((customers, policy)) = &uplift.rates_given {
        println!(
            "  rates to give  {policy} for {customers} customers (cashback_predictions.recommended_rate; the model's tiers stay beside it)"
        );
    }
    println!(
        "  outputs        {} files in {} (open dashboard.html)",
        files.len(),
        ctx.config.export.out_dir.display()
    );
    Ok(())
}

/// A test hook, inert unless `FLUZ_TEST_PAUSE_AFTER=<stage>:<file>` is set: after that stage
/// run-all creates `<file>` and waits (at most 60 s) until it is removed, so that a test can try
/// another command while run-all sits between two stages holding its store session.
fn between_stages(stage: &str) {
    let Some(hook) = std::env::var_os("FLUZ_TEST_PAUSE_AFTER") else {
        return;
    };
    let hook = hook.to_string_lossy();
    let Some((after, file)) = hook.split_once(':') else {
        return;
    };
    if after != stage {
        return;
    }
    let file = std::path::Path::new(file);
    if std::fs::write(file, stage).is_err() {
        return;
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while file.exists() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
