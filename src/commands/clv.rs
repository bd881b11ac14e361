//! `fluz clv`: the RFM summary of the purchases (the store's `transactions`, an external
//! purchases file or a ready RFM summary), the BG/NBD and Gamma-Gamma fits, and per customer
//! P(alive), expected purchases, expected value and CLV → `customer_value`, `clv_model`,
//! `clv_holdout` and, with a calibration end, `clv_holdout.png`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;
use serde_json::json;

use super::{f64_column, i64_column, record_stage};
use crate::clv::readers::{
    purchases_from_transactions, read_purchases, read_rfm, PurchaseColumns, TRANSACTION_COLUMNS,
};
use crate::clv::rfm::{summarise, Periods, Purchase, RfmCounts};
use crate::clv::{analyse, ClvParams, ClvResult, HoldoutRow, HoldoutSummary, Rfm, TimeUnit};
use crate::config::{ClvConfig, ClvTimeUnit, Config};
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

/// The domain parameters from the config.
pub(crate) fn params(config: &Config) -> ClvParams {
    let clv = &config.clv;
    ClvParams {
        unit: time_unit(clv),
        penalizer: clv.penalizer,
        gamma_gamma_penalizer: clv.gamma_gamma_penalizer,
        horizon_months: clv.horizon_months,
        discount_rate_monthly: clv.discount_rate_monthly,
    }
}

fn time_unit(clv: &ClvConfig) -> TimeUnit {
    match clv.time_unit {
        ClvTimeUnit::Days => TimeUnit::Days,
        ClvTimeUnit::Weeks => TimeUnit::Weeks,
    }
}

/// Where the RFM summary came from, for messages and the manifest.
fn input_name(clv: &ClvConfig) -> String {
    if !clv.rfm.as_os_str().is_empty() {
        format!("RFM summary {}", clv.rfm.display())
    } else if !clv.transactions.as_os_str().is_empty() {
        format!("purchases file {}", clv.transactions.display())
    } else {
        "the store's transactions".to_string()
    }
}

/// The store's transactions as purchases: one per line, value = quantity × unit price.
fn store_purchases(store: &mut dyn Store) -> Result<Vec<Purchase>> {
    let table = store.read_columns("transactions", &TRANSACTION_COLUMNS)?;
    purchases_from_transactions(&table)
}

/// Reads the configured input and summarises it; the purchases too, unless the input is a
/// ready RFM summary.
fn load_rfm(
    config: &Config,
    store: &mut dyn Store,
) -> Result<(Rfm, RfmCounts, Option<Vec<Purchase>>)> {
    let clv = &config.clv;
    let max_bytes = config.ingest.max_decompressed_bytes;
    if !clv.rfm.as_os_str().is_empty() {
        let rfm = read_rfm(&clv.rfm, max_bytes)?;
        let counts = RfmCounts::default();
        return Ok((rfm, counts, None));
    }
    let purchases = if clv.transactions.as_os_str().is_empty() {
        store_purchases(store)?
    } else {
        let columns = PurchaseColumns {
            customer: clv.customer_column.clone(),
            date: clv.date_column.clone(),
            value: clv.value_column.clone(),
        };
        read_purchases(&clv.transactions, &columns, max_bytes)?
    };
    let periods = Periods {
        unit: time_unit(clv),
        calibration_end: ClvConfig::day("calibration_end", &clv.calibration_end)?,
        observation_end: ClvConfig::day("observation_end", &clv.observation_end)?,
    };
    let (rfm, counts) = summarise(&purchases, &periods)
        .map_err(|why| user_error(format!("{}: {why}", input_name(clv))))?;
    Ok((rfm, counts, Some(purchases)))
}

/// The holdout check without a calibration end: the models fitted again on all but the last
/// `[clv] check_days` days, their expectation compared with what those days saw. The check is
/// a diagnostic: when the purchases before the held-out days span less than half of them, or
/// its fit fails, it is skipped with a warning and the values (from the fit on everything)
/// stand.
fn holdout_check(
    config: &Config,
    margin_of: &HashMap<i64, f64>,
    purchases: &[Purchase],
    params: &ClvParams,
) -> Result<Option<(Rfm, ClvResult)>> {
    let days = i64::from(config.clv.check_days);
    let first = purchases.iter().map(|p| p.day).min().unwrap_or(0);
    let last = purchases.iter().map(|p| p.day).max().unwrap_or(0);
    // A calibration period at least half as long as the holdout.
    if 2 * (last - days - first) < days {
        tracing::warn!(
            "clv: no holdout check: the purchases span {} days, too few to hold out the last [clv] check_days = {days} (the rest must span at least half of it)",
            last - first
        );
        return Ok(None);
    }
    let periods = Periods {
        unit: params.unit,
        calibration_end: Some(last - days),
        observation_end: Some(last),
    };
    let (rfm, _) = match summarise(purchases, &periods) {
        Ok(summary) => summary,
        Err(why) => {
            tracing::warn!("clv: no holdout check of the last {days} days: {why}");
            return Ok(None);
        }
    };
    // The check's customers bought before its end, so all are in the main summary: their
    // margins are known, no second read of customer_features.
    let margin: Vec<f64> = rfm.customer_id.iter().map(|id| margin_of[id]).collect();
    match analyse(&rfm, &margin, params) {
        Ok(result) => Ok(Some((rfm, result))),
        Err(err) => {
            tracing::warn!("clv: no holdout check of the last {days} days: {err}");
            Ok(None)
        }
    }
}

/// The check's per-customer holdout columns, aligned to the main summary's customers (a
/// customer who first bought in the held-out days has none).
fn check_columns(main: &Rfm, check: &Rfm, result: &ClvResult) -> Vec<Column> {
    let row: HashMap<i64, usize> = check
        .customer_id
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    let at = |id: &i64| row.get(id).copied();
    let holdout = check.holdout.as_ref();
    let expected = result.values.holdout_expected.as_ref();
    vec![
        Column::new(
            "holdout_frequency".into(),
            main.customer_id
                .iter()
                .map(|id| at(id).and_then(|i| holdout.map(|h| h.frequency[i] as i64)))
                .collect::<Vec<Option<i64>>>(),
        ),
        Column::new(
            "holdout_monetary_value".into(),
            main.customer_id
                .iter()
                .map(|id| at(id).and_then(|i| holdout.map(|h| h.monetary_value[i])))
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            "holdout_expected".into(),
            main.customer_id
                .iter()
                .map(|id| at(id).and_then(|i| expected.map(|e| e[i])))
                .collect::<Vec<Option<f64>>>(),
        ),
    ]
}

/// Each customer's margin: the fixed `[clv] margin`, or their `merchant_commission`.
fn margins(config: &Config, store: &mut dyn Store, rfm: &Rfm) -> Result<Vec<f64>> {
    if let Some(fixed) = config.clv.fixed_margin() {
        return Ok(vec![fixed; rfm.len()]);
    }
    let features =
        store.read_columns("customer_features", &["customer_id", "merchant_commission"])?;
    let ids = i64_column(&features, "customer_id")?;
    let commission = f64_column(&features, "merchant_commission")?;
    let by_id: HashMap<i64, f64> = ids.into_iter().zip(commission).collect();
    rfm.customer_id
        .iter()
        .map(|id| {
            by_id.get(id).copied().ok_or_else(|| {
                user_error(format!(
                    "customer {id} has transactions but no row in customer_features (margin = \"commission\" needs it): run `fluz eda` first"
                ))
            })
        })
        .collect()
}

fn optional_column(name: &str, values: Option<&Vec<f64>>, n: usize) -> Column {
    match values {
        Some(v) => Column::new(name.into(), v.clone()),
        None => Column::full_null(name.into(), n, &DataType::Float64),
    }
}

/// `customer_value`, `clv_model` and `clv_holdout` from the results.
fn tables(
    rfm: &Rfm,
    margin: &[f64],
    result: &ClvResult,
    holdout_rows: Option<&HoldoutSummary>,
) -> Result<(DataFrame, DataFrame, DataFrame)> {
    let n = rfm.len();
    let values = &result.values;
    let monetary = (!rfm.monetary_value.is_empty()).then_some(&rfm.monetary_value);
    let holdout = rfm.holdout.as_ref();
    let customer_value = DataFrame::new(
        n,
        vec![
            Column::new("customer_id".into(), rfm.customer_id.clone()),
            Column::new(
                "frequency".into(),
                rfm.frequency
                    .iter()
                    .map(|&x| x as i64)
                    .collect::<Vec<i64>>(),
            ),
            Column::new("recency".into(), rfm.recency.clone()),
            Column::new("T".into(), rfm.age.clone()),
            optional_column("monetary_value", monetary, n),
            Column::new("p_alive".into(), values.p_alive.clone()),
            Column::new(
                "expected_purchases".into(),
                values.expected_purchases.clone(),
            ),
            optional_column("expected_value", values.expected_value.as_ref(), n),
            Column::new("margin".into(), margin.to_vec()),
            optional_column("clv", values.clv.as_ref(), n),
            match holdout {
                Some(h) => Column::new(
                    "holdout_frequency".into(),
                    h.frequency.iter().map(|&x| x as i64).collect::<Vec<i64>>(),
                ),
                None => Column::full_null("holdout_frequency".into(), n, &DataType::Int64),
            },
            optional_column(
                "holdout_monetary_value",
                holdout.map(|h| &h.monetary_value),
                n,
            ),
            optional_column("holdout_expected", values.holdout_expected.as_ref(), n),
        ],
    )?;
    let mut model = Vec::new();
    let mut parameter = Vec::new();
    let mut value = Vec::new();
    let mut std_error: Vec<Option<f64>> = Vec::new();
    let mut log_likelihood = Vec::new();
    let mut n_customers = Vec::new();
    let bg = &result.bgnbd;
    for (k, name) in ["r", "alpha", "a", "b"].into_iter().enumerate() {
        model.push("bgnbd");
        parameter.push(name);
        value.push(bg.params.as_array()[k]);
        std_error.push(bg.std_errors.map(|se| se[k]));
        log_likelihood.push(bg.log_likelihood);
        n_customers.push(bg.n_customers as i64);
    }
    if let Some(gg) = &result.gamma_gamma {
        for (k, name) in ["p", "q", "v"].into_iter().enumerate() {
            model.push("gamma_gamma");
            parameter.push(name);
            value.push(gg.params.as_array()[k]);
            std_error.push(gg.std_errors.map(|se| se[k]));
            log_likelihood.push(gg.log_likelihood);
            n_customers.push(gg.n_customers as i64);
        }
    }
    let clv_model = DataFrame::new(
        model.len(),
        vec![
            Column::new("model".into(), model),
            Column::new("parameter".into(), parameter),
            Column::new("value".into(), value),
            Column::new("std_error".into(), std_error),
            Column::new("log_likelihood".into(), log_likelihood),
            Column::new("n_customers".into(), n_customers),
        ],
    )?;
    let rows: &[HoldoutRow] = holdout_rows.map_or(&[][..], |h| h.rows.as_slice());
    let clv_holdout = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "calibration_frequency".into(),
                rows.iter()
                    .map(|r| r.calibration_frequency.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "customers".into(),
                rows.iter()
                    .map(|r| r.customers as i64)
                    .collect::<Vec<i64>>(),
            ),
            Column::new(
                "actual_mean".into(),
                rows.iter().map(|r| r.actual_mean).collect::<Vec<f64>>(),
            ),
            Column::new(
                "expected_mean".into(),
                rows.iter().map(|r| r.expected_mean).collect::<Vec<f64>>(),
            ),
            Column::new(
                "actual_total".into(),
                rows.iter().map(|r| r.actual_total).collect::<Vec<f64>>(),
            ),
            Column::new(
                "expected_total".into(),
                rows.iter().map(|r| r.expected_total).collect::<Vec<f64>>(),
            ),
            Column::new(
                "mae".into(),
                rows.iter().map(|r| r.mae).collect::<Vec<f64>>(),
            ),
        ],
    )?;
    Ok((customer_value, clv_model, clv_holdout))
}

/// `features` (customer_features) with the `customer_value` columns among `names` appended,
/// row for row by customer_id; unchanged when `names` has none. A customer without a value is
/// an error that names them (segmenting needs every customer's features).
pub(crate) fn with_customer_value(
    store: &mut dyn Store,
    features: DataFrame,
    names: &[String],
) -> Result<DataFrame> {
    let wanted: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| crate::config::CLV_FEATURES.contains(n))
        .collect();
    if wanted.is_empty() {
        return Ok(features);
    }
    let mut columns = vec!["customer_id"];
    columns.extend(&wanted);
    let values = store.read_columns("customer_value", &columns)?;
    let row_of: HashMap<i64, usize> = i64_column(&values, "customer_id")?
        .into_iter()
        .enumerate()
        .map(|(row, id)| (id, row))
        .collect();
    let ids = i64_column(&features, "customer_id")?;
    let rows: Vec<usize> = ids
        .iter()
        .map(|id| {
            row_of.get(id).copied().ok_or_else(|| {
                user_error(format!(
                    "[segment] features names customer_value columns, but customer {id} has no row in customer_value (first purchase after [clv] calibration_end?); set calibration_end = \"\" to value every customer, or run `fluz clv`"
                ))
            })
        })
        .collect::<Result<_>>()?;
    let mut out = features;
    for name in wanted {
        let column = f64_column(&values, name)?;
        let aligned: Vec<f64> = rows.iter().map(|&r| column[r]).collect();
        if let Some(i) = aligned.iter().position(|v| !v.is_finite()) {
            return Err(user_error(format!(
                "customer_value column {name} is empty for customer {} (an RFM input without monetary_value?): it cannot be a segment feature",
                ids[i]
            )));
        }
        out.with_column(Column::new(name.into(), aligned))?;
    }
    Ok(out)
}

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<ClvSummary> {
    let started = Instant::now();
    let config = &ctx.config;
    let (rfm, counts, purchases) = load_rfm(config, store)?;
    let margin = margins(config, store, &rfm)?;
    let params = params(config);
    let result = analyse(&rfm, &margin, &params)
        .map_err(|err| user_error(format!("{}: {err}", input_name(&config.clv))))?;
    // Without a calibration end, the check is a second fit with the last days held out.
    let check = match &purchases {
        Some(purchases) if config.clv.calibration_end.is_empty() && config.clv.check_days > 0 => {
            let margin_of: HashMap<i64, f64> = rfm
                .customer_id
                .iter()
                .copied()
                .zip(margin.iter().copied())
                .collect();
            holdout_check(config, &margin_of, purchases, &params)?
        }
        _ => None,
    };
    let holdout = match &check {
        Some((_, checked)) => checked.holdout.as_ref(),
        None => result.holdout.as_ref(),
    };
    let (mut customer_value, clv_model, clv_holdout) = tables(&rfm, &margin, &result, holdout)?;
    if let Some((check_rfm, checked)) = &check {
        for column in check_columns(&rfm, check_rfm, checked) {
            customer_value.with_column(column)?;
        }
    }
    if result.bgnbd.std_errors.is_none() {
        let p = result.bgnbd.params;
        tracing::warn!(
            "BG/NBD: the Hessian is not positive definite at the optimum (r = {:.4}, alpha = {:.4}, a = {:.3e}, b = {:.3e}): a parameter ran to the edge of its range (a → 0 means the data show no dropout), so the standard errors are left empty; a [clv] penalizer keeps the parameters finite",
            p.r, p.alpha, p.a, p.b
        );
    }

    // The chart first: a failure here leaves every table as it was.
    let chart = config.export.out_dir.join("clv_holdout.png");
    if let Some(holdout) = holdout {
        std::fs::create_dir_all(&config.export.out_dir)
            .with_context(|| format!("cannot create {}", config.export.out_dir.display()))?;
        let bars: Vec<(String, f64, f64)> = holdout
            .rows
            .iter()
            .filter(|r| r.calibration_frequency != "all")
            .map(|r| {
                (
                    r.calibration_frequency.clone(),
                    r.actual_mean,
                    r.expected_mean,
                )
            })
            .collect();
        crate::report::clv_chart::holdout_chart(
            &chart,
            &bars,
            holdout.duration,
            params.unit.name(),
        )?;
    } else if chart.exists() {
        // A chart from an earlier run with a holdout would no longer match the tables.
        std::fs::remove_file(&chart)
            .with_context(|| format!("cannot remove {}", chart.display()))?;
    }
    store.write_table("customer_value", &customer_value)?;
    store.write_table("clv_model", &clv_model)?;
    store.write_table("clv_holdout", &clv_holdout)?;

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
        check_days: check.as_ref().map(|_| config.clv.check_days),
    };
    record_stage(
        store,
        "clv",
        started,
        rfm.len(),
        json!({
            "input": input_name(&config.clv),
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
            "holdout_check_days": check.as_ref().map(|_| config.clv.check_days),
            "holdout_check_bgnbd": check.as_ref().map(|(_, c)| {
                let p = c.bgnbd.params;
                [p.r, p.alpha, p.a, p.b]
            }),
        }),
    )?;
    if !ctx.quiet {
        print_summary(&summary, &params, config);
    }
    Ok(summary)
}

fn print_summary(s: &ClvSummary, params: &ClvParams, config: &Config) {
    let unit = params.unit.name();
    println!(
        "fluz clv: {} customers from {} (time in {unit})",
        s.customers,
        input_name(&config.clv)
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
