//! `fluz clv`: the RFM summary of the purchases (the store's `transactions`, an external
//! purchases file or a ready RFM summary), the BG/NBD and Gamma-Gamma fits, and per customer
//! P(alive), expected purchases, expected value and CLV → `customer_value`, `clv_model`,
//! `clv_holdout` and, with a calibration end, `clv_holdout.png`.

use std::time::Instant;

use anyhow::{Context as _, Result};
use serde_json::json;

use super::record_stage;
use crate::clv::input::{analyse_with_check, summarise_input};
use crate::clv::readers::{commission_margins, purchases_from_transactions, TRANSACTION_COLUMNS};
use crate::clv::rfm::Purchase;
use crate::clv::{tables, ClvParams, Rfm};
use crate::config::Config;
use crate::error::user_error;
use crate::store::Store;
use crate::Context;

/// What the stage produced, for run-all's summary.
#[derive(Clone, Debug)]
pub(crate) struct ClvSummary {
    pub customers: usize,
    /// Customers with no repeat purchase, left out of the Gamma-Gamma fit.
    pub excluded_no_repeat: usize,
    /// Customers whose repeat purchases were all free, also left out.
    pub excluded_zero_value: usize,
    /// Customers whose first purchase is after the calibration end (not valued).
    pub first_purchase_after_calibration: usize,
    /// r, α, a, b and the log-likelihood.
    pub bgnbd: [f64; 5],
    /// p, q, v, when the input has purchase values.
    pub gamma_gamma: Option<[f64; 3]>,
    pub total_clv: Option<f64>,
    /// The holdout's "all" row: customers, actual total, expected total, MAE.
    pub holdout: Option<(f64, f64, f64)>,
    /// The holdout came from the check of the last this many days (no calibration end).
    pub check_days: Option<u32>,
}

/// The store's transactions as purchases: one per line, value = quantity × unit price.
fn store_purchases(store: &mut dyn Store) -> Result<Vec<Purchase>> {
    let table = store.read_columns("transactions", &TRANSACTION_COLUMNS)?;
    purchases_from_transactions(&table)
}

/// Each customer's margin: the fixed `[clv] margin`, or their `merchant_commission`.
fn margins(config: &Config, store: &mut dyn Store, rfm: &Rfm) -> Result<Vec<f64>> {
    if let Some(fixed) = config.clv.fixed_margin() {
        return Ok(vec![fixed; rfm.len()]);
    }
    let features =
        store.read_columns("customer_features", &["customer_id", "merchant_commission"])?;
    commission_margins(&rfm.customer_id, &features)
}

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<ClvSummary> {
    let started = Instant::now();
    let config = &ctx.config;
    let params = super::params::clv(config);
    let input = super::params::clv_input(config)?;
    let summarised = summarise_input(&input, || store_purchases(store))?;
    let (rfm, counts) = (&summarised.rfm, &summarised.counts);
    let margin = margins(config, store, rfm)?;
    let analysis = analyse_with_check(&summarised, &margin, &input, &params)
        .map_err(|err| user_error(format!("{}: {err}", input.input.name())))?;
    let (result, check, holdout) = (&analysis.result, &analysis.check, analysis.holdout());
    let tables = tables::tables(rfm, &margin, result, holdout, check.as_ref())?;

    // The chart first: a failure here leaves every table as it was.
    let chart = config.export.out_dir.join("clv_holdout.png");
    if let Some(holdout) = holdout {
        std::fs::create_dir_all(&config.export.out_dir)
            .with_context(|| format!("cannot create {}", config.export.out_dir.display()))?;
        let period = format!("{:.1} {}", holdout.duration, params.unit.name());
        crate::report::pngs::clv_holdout(&chart, &holdout.rows, &period)?;
    } else if chart.exists() {
        // A chart from an earlier run with a holdout would no longer match the tables.
        std::fs::remove_file(&chart)
            .with_context(|| format!("cannot remove {}", chart.display()))?;
    }
    store.write_table("customer_value", &tables.customer_value)?;
    store.write_table("clv_model", &tables.clv_model)?;
    store.write_table("clv_holdout", &tables.clv_holdout)?;

    let bg = result.bgnbd.params;
    let all = holdout
        .and_then(|h| h.rows.last())
        .map(|r| (r.actual_total, r.expected_total, r.mae));
    let summary = ClvSummary {
        customers: rfm.len(),
        excluded_no_repeat: result.excluded_no_repeat,
        excluded_zero_value: result.excluded_zero_value,
        first_purchase_after_calibration: counts.first_purchase_after_calibration,
        bgnbd: [bg.r, bg.alpha, bg.a, bg.b, result.bgnbd.log_likelihood],
        gamma_gamma: result.gamma_gamma.as_ref().map(|g| g.params.as_array()),
        total_clv: result.values.clv.as_ref().map(|c| c.iter().sum()),
        holdout: all,
        check_days: analysis.check_days,
    };
    record_stage(
        store,
        "clv",
        started,
        rfm.len(),
        json!({
            "input": input.input.name(),
            "time_unit": params.unit.name(),
            "customers": rfm.len(),
            "purchases": counts.purchases,
            "purchase_days": counts.purchase_days,
            "first_purchase_after_calibration": counts.first_purchase_after_calibration,
            "purchases_after_observation_end": counts.after_observation_end,
            "gamma_gamma_excluded_no_repeat": result.excluded_no_repeat,
            "gamma_gamma_excluded_zero_value": result.excluded_zero_value,
            "bgnbd_iterations": result.bgnbd.iterations,
            "holdout_duration": holdout.map(|h| h.duration),
            "holdout_check_days": analysis.check_days,
            "holdout_check_bgnbd": check.as_ref().map(|(_, c)| {
                let p = c.bgnbd.params;
                [p.r, p.alpha, p.a, p.b]
            }),
        }),
    )?;
    if !ctx.quiet {
        print_summary(&summary, &params, &input.input.name());
    }
    Ok(summary)
}

fn print_summary(s: &ClvSummary, params: &ClvParams, input: &str) {
    let unit = params.unit.name();
    println!(
        "fluz clv: {} customers from {input} (time in {unit})",
        s.customers
    );
    if s.first_purchase_after_calibration > 0 {
        println!(
            "  {} customers first bought after the calibration end: not valued",
            s.first_purchase_after_calibration
        );
    }
    let [r, alpha, a, b, ll] = s.bgnbd;
    println!("  BG/NBD       r = {r:.4}, alpha = {alpha:.4}, a = {a:.4}, b = {b:.4}, log-likelihood {ll:.2}");
    match s.gamma_gamma {
        Some([p, q, v]) => println!(
            "  Gamma-Gamma  p = {p:.4}, q = {q:.4}, v = {v:.4} on {} customers ({} with no repeat purchase excluded{})",
            s.customers - s.excluded_no_repeat - s.excluded_zero_value,
            s.excluded_no_repeat,
            if s.excluded_zero_value > 0 {
                format!(", {} whose repeat purchases were all free", s.excluded_zero_value)
            } else {
                String::new()
            }
        ),
        None => println!("  Gamma-Gamma  not fitted: the RFM summary has no monetary_value"),
    }
    if let Some(total) = s.total_clv {
        println!(
            "  CLV          {total:.2} in total over {} months at {}% a month",
            params.horizon_months,
            params.discount_rate_monthly * 100.0
        );
    }
    if let Some((actual, expected, mae)) = s.holdout {
        let check = s.check_days.map_or(String::new(), |days| {
            format!(" (check: refit without the last {days} days)")
        });
        println!(
            "  holdout      {actual:.0} purchases observed, {expected:.1} expected ({:+.1}%), MAE {mae:.3} per customer{check}",
            if actual > 0.0 { 100.0 * (expected - actual) / actual } else { 0.0 }
        );
    }
}
