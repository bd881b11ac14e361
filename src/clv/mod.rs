//! Customer lifetime value with the buy-till-you-die models: the RFM summary of purchases
//! ([`rfm`]), BG/NBD for how often and how long a customer keeps buying ([`bgnbd`]),
//! Gamma-Gamma for how much per purchase ([`gamma_gamma`]), and per customer P(alive),
//! expected purchases, expected value and discounted CLV ([`analyse`]); the holdout check by
//! refitting without the last days ([`check`]) and the stage's tables ([`tables`]). Readers for
//! the CDNOW layouts, a named-column CSV and an RFM summary CSV are in [`readers`]; which input
//! is read and when the holdout check runs, in [`input`].
//!
//! Plain parameters in, plain results out: no config, no store.

pub(crate) mod bgnbd;
pub(crate) mod check;
pub(crate) mod gamma_gamma;
pub(crate) mod input;
pub(crate) mod optimize;
pub(crate) mod readers;
pub(crate) mod rfm;
pub(crate) mod simulate;
pub(crate) mod special;
pub(crate) mod tables;

use rayon::prelude::*;

pub(crate) use bgnbd::{BgNbdFit, BgNbdParams};
pub(crate) use gamma_gamma::GammaGammaFit;
pub(crate) use rfm::{Rfm, TimeUnit};

/// Why a CLV analysis failed. All of these are about the data or the settings (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ClvError {
    #[error("{0}: there are no customers to fit")]
    NoCustomers(&'static str),
    #[error("no customer has a repeat purchase: the BG/NBD and Gamma-Gamma cannot be fitted")]
    NoRepeatPurchases,
    #[error("the {model} fit did not converge ({reason}) after {iterations} iterations; it stopped at {at} (mean negative log-likelihood {objective:.6}, largest gradient component {gradient:.3e})")]
    NotConverged {
        model: &'static str,
        reason: &'static str,
        iterations: usize,
        at: String,
        objective: f64,
        gradient: f64,
    },
    #[error("{0}")]
    Degenerate(String),
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub(crate) fn format_day(day: i64) -> String {
    let (y, m, d) = crate::sources::dates::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Settings of an analysis (validated by the caller).
#[derive(Clone, Debug)]
pub(crate) struct ClvParams {
    pub unit: TimeUnit,
    /// L2 penalty on the BG/NBD parameters (`lifetimes`' `penalizer_coef`).
    pub penalizer: f64,
    /// L2 penalty on the Gamma-Gamma parameters.
    pub gamma_gamma_penalizer: f64,
    /// CLV horizon in months.
    pub horizon_months: usize,
    /// Monthly discount rate of the CLV's cash flows.
    pub discount_rate_monthly: f64,
}

/// Days in a month (365.25 / 12). `lifetimes` uses 30 days or 4.345 weeks.
pub(crate) const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

/// Everything an analysis produced.
#[derive(Clone, Debug)]
pub(crate) struct ClvResult {
    pub bgnbd: BgNbdFit,
    /// `None` when the input has no purchase values (an RFM summary without monetary_value).
    pub gamma_gamma: Option<GammaGammaFit>,
    /// Customers left out of the Gamma-Gamma fit because they have no repeat purchase.
    pub excluded_no_repeat: usize,
    /// Customers with repeat purchases that were all free (mean value 0), also left out.
    pub excluded_zero_value: usize,
    pub values: CustomerValues,
    /// Expected vs actual holdout purchases, when the RFM summary has a holdout.
    pub holdout: Option<HoldoutSummary>,
}

/// Per-customer outputs, parallel to the RFM summary.
#[derive(Clone, Debug, Default)]
pub(crate) struct CustomerValues {
    pub p_alive: Vec<f64>,
    /// Expected purchases in the next `horizon_months`.
    pub expected_purchases: Vec<f64>,
    /// Gamma-Gamma expected mean purchase value (`None` without values).
    pub expected_value: Option<Vec<f64>>,
    /// Discounted expected margin over the horizon (`None` without values).
    pub clv: Option<Vec<f64>>,
    /// Expected purchases over the holdout period.
    pub holdout_expected: Option<Vec<f64>>,
}

/// One line of the holdout check, by calibration frequency.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HoldoutRow {
    /// "0" … "6", "7+", or "all".
    pub calibration_frequency: String,
    pub customers: usize,
    pub actual_mean: f64,
    pub expected_mean: f64,
    pub actual_total: f64,
    pub expected_total: f64,
    /// Mean absolute error per customer.
    pub mae: f64,
}

/// The holdout check: rows by calibration frequency 0…7+, then "all".
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HoldoutSummary {
    pub duration: f64,
    pub rows: Vec<HoldoutRow>,
}

/// One customer's P(alive), expected purchases, expected value, CLV and holdout expectation.
type CustomerRow = (f64, f64, Option<f64>, Option<f64>, Option<f64>);

/// Fits both models on `rfm` and values every customer. `margin[i]` is customer i's margin
/// per unit of spend (the platform's commission); it scales the Gamma-Gamma value into CLV.
pub(crate) fn analyse(
    rfm: &Rfm,
    margin: &[f64],
    params: &ClvParams,
) -> Result<ClvResult, ClvError> {
    if rfm.is_empty() {
        return Err(ClvError::NoCustomers("BG/NBD"));
    }
    assert_eq!(margin.len(), rfm.len(), "one margin per customer");
    let compressed = rfm::compress(&rfm.frequency, &rfm.recency, &rfm.age);
    let bgnbd = bgnbd::fit(&compressed, params.penalizer)?;
    let has_values = !rfm.monetary_value.is_empty();
    let excluded_no_repeat = rfm.frequency.iter().filter(|&&x| x <= 0.0).count();
    // The Gamma-Gamma needs a positive mean value: customers whose repeat purchases were all
    // free are left out of the fit (and valued at the shrunk mean like everyone else).
    let repeaters: Vec<usize> = (0..rfm.len())
        .filter(|&i| rfm.frequency[i] > 0.0 && (!has_values || rfm.monetary_value[i] > 0.0))
        .collect();
    let excluded_zero_value = rfm.len() - excluded_no_repeat - repeaters.len();
    let gamma_gamma = if has_values {
        let x: Vec<f64> = repeaters.iter().map(|&i| rfm.frequency[i]).collect();
        let m: Vec<f64> = repeaters.iter().map(|&i| rfm.monetary_value[i]).collect();
        Some(gamma_gamma::fit(&x, &m, params.gamma_gamma_penalizer)?)
    } else {
        None
    };
    let month = DAYS_PER_MONTH / params.unit.days();
    let holdout_duration = rfm.holdout.as_ref().map(|h| h.duration);
    let bg = bgnbd.params;
    let gg = gamma_gamma.as_ref().map(|f| f.params);
    let rows: Vec<Result<CustomerRow, ClvError>> = (0..rfm.len())
        .into_par_iter()
        .map(|i| {
            let (x, tx, t) = (rfm.frequency[i], rfm.recency[i], rfm.age[i]);
            let alive = bgnbd::p_alive(&bg, x, tx, t);
            // Cumulative expected purchases at each month end; the horizon's is the last.
            let mut cumulative = Vec::with_capacity(params.horizon_months + 1);
            cumulative.push(0.0);
            for k in 1..=params.horizon_months {
                cumulative.push(bgnbd::expected_purchases(&bg, month * k as f64, x, tx, t)?);
            }
            let purchases = if params.horizon_months == 0 {
                0.0
            } else {
                cumulative[params.horizon_months]
            };
            let (value, clv) = match gg {
                Some(gg) => {
                    let value = gg.expected_value(x, rfm.monetary_value[i]);
                    let clv: f64 = (1..=params.horizon_months)
                        .map(|k| {
                            (cumulative[k] - cumulative[k - 1]) * value * margin[i]
                                / (1.0 + params.discount_rate_monthly).powi(k as i32)
                        })
                        .sum();
                    (Some(value), Some(clv))
                }
                None => (None, None),
            };
            let holdout = match holdout_duration {
                Some(d) => Some(bgnbd::expected_purchases(&bg, d, x, tx, t)?),
                None => None,
            };
            Ok((alive, purchases, value, clv, holdout))
        })
        .collect();
    let mut values = CustomerValues::default();
    let (mut ev, mut clv, mut he) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let (alive, purchases, value, customer_clv, holdout) = row?;
        for v in [Some(alive), Some(purchases), value, customer_clv, holdout]
            .into_iter()
            .flatten()
        {
            if !v.is_finite() {
                return Err(ClvError::Degenerate(format!(
                    "a customer's prediction is not finite ({v}); the fitted parameters are r = {}, alpha = {}, a = {}, b = {}",
                    bg.r, bg.alpha, bg.a, bg.b
                )));
            }
        }
        values.p_alive.push(alive);
        values.expected_purchases.push(purchases);
        if let Some(v) = value {
            ev.push(v);
        }
        if let Some(c) = customer_clv {
            clv.push(c);
        }
        if let Some(h) = holdout {
            he.push(h);
        }
    }
    if gg.is_some() {
        values.expected_value = Some(ev);
        values.clv = Some(clv);
    }
    let holdout = match &rfm.holdout {
        Some(h) => {
            let summary = holdout_summary(h.duration, &rfm.frequency, &h.frequency, &he);
            values.holdout_expected = Some(he);
            Some(summary)
        }
        None => None,
    };
    Ok(ClvResult {
        bgnbd,
        gamma_gamma,
        excluded_no_repeat,
        excluded_zero_value,
        values,
        holdout,
    })
}

/// Expected vs actual holdout purchases by calibration frequency 0…6, 7+, and overall.
pub(crate) fn holdout_summary(
    duration: f64,
    calibration_frequency: &[f64],
    actual: &[f64],
    expected: &[f64],
) -> HoldoutSummary {
    let bucket = |x: f64| (x as usize).min(7);
    let mut rows = Vec::with_capacity(9);
    for b in (0..8).map(Some).chain([None]) {
        let members: Vec<usize> = (0..actual.len())
            .filter(|&i| b.is_none_or(|b| bucket(calibration_frequency[i]) == b))
            .collect();
        let n = members.len();
        let actual_total: f64 = members.iter().map(|&i| actual[i]).sum();
        let expected_total: f64 = members.iter().map(|&i| expected[i]).sum();
        let abs_error: f64 = members
            .iter()
            .map(|&i| (expected[i] - actual[i]).abs())
            .sum();
        let per = |v: f64| if n == 0 { 0.0 } else { v / n as f64 };
        rows.push(HoldoutRow {
            calibration_frequency: match b {
                Some(7) => "7+".to_string(),
                Some(b) => b.to_string(),
                None => "all".to_string(),
            },
            customers: n,
            actual_mean: per(actual_total),
            expected_mean: per(expected_total),
            actual_total,
            expected_total,
            mae: per(abs_error),
        });
    }
    HoldoutSummary { duration, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_rows_by_frequency() {
        let summary = holdout_summary(
            39.0,
            &[0.0, 0.0, 1.0, 9.0, 12.0],
            &[0.0, 2.0, 1.0, 5.0, 7.0],
            &[0.5, 0.5, 1.5, 4.0, 6.0],
        );
        assert_eq!(summary.rows.len(), 9);
        let zero = &summary.rows[0];
        assert_eq!(
            (zero.customers, zero.actual_mean, zero.expected_mean),
            (2, 1.0, 0.5)
        );
        assert_eq!(zero.mae, 1.0);
        let seven = &summary.rows[7];
        assert_eq!(seven.calibration_frequency, "7+");
        assert_eq!(
            (seven.customers, seven.actual_total, seven.expected_total),
            (2, 12.0, 10.0)
        );
        let all = &summary.rows[8];
        assert_eq!(all.calibration_frequency, "all");
        assert_eq!(all.customers, 5);
        assert!((all.mae - (0.5 + 1.5 + 0.5 + 1.0 + 1.0) / 5.0).abs() < 1e-12);
    }
}

/// A small public surface for the benches and the integration tests outside the crate; the
/// command goes through [`analyse`].
#[doc(hidden)]
pub mod api {
    use std::path::Path;

    use polars::prelude::DataFrame;

    use super::rfm::{compress, summarise, Periods};
    use super::{bgnbd, gamma_gamma, simulate, BgNbdParams, ClvError, TimeUnit};

    /// An RFM summary as plain columns: x, t_x, T, mean repeat value (empty without values).
    pub(crate) type Columns = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

    /// Reads an RFM summary CSV.
    pub fn read_rfm(path: &Path) -> anyhow::Result<Columns> {
        let rfm = super::readers::read_rfm(path, 1 << 33)?;
        Ok((rfm.frequency, rfm.recency, rfm.age, rfm.monetary_value))
    }

    /// The RFM summary of a cleaned `transactions` table in weeks, with an optional
    /// calibration end day.
    pub fn rfm_from_transactions(
        table: &DataFrame,
        calibration_end: Option<i64>,
    ) -> anyhow::Result<Columns> {
        let purchases = super::readers::purchases_from_transactions(table)?;
        let periods = Periods {
            unit: TimeUnit::Weeks,
            calibration_end,
            observation_end: None,
        };
        let (rfm, _) = summarise(&purchases, &periods).map_err(anyhow::Error::msg)?;
        Ok((rfm.frequency, rfm.recency, rfm.age, rfm.monetary_value))
    }

    /// Fits the BG/NBD: r, α, a, b and the log-likelihood.
    pub fn fit_bgnbd(
        x: &[f64],
        tx: &[f64],
        t: &[f64],
        penalizer: f64,
    ) -> Result<[f64; 5], ClvError> {
        let fit = bgnbd::fit(&compress(x, tx, t), penalizer)?;
        let p = fit.params;
        Ok([p.r, p.alpha, p.a, p.b, fit.log_likelihood])
    }

    /// Fits the Gamma-Gamma on the customers with x > 0 and a positive mean: p, q, v and the
    /// customers used.
    pub fn fit_gamma_gamma(
        x: &[f64],
        m: &[f64],
        penalizer: f64,
    ) -> Result<([f64; 3], usize), ClvError> {
        let keep: Vec<usize> = (0..x.len()).filter(|&i| x[i] > 0.0 && m[i] > 0.0).collect();
        let xs: Vec<f64> = keep.iter().map(|&i| x[i]).collect();
        let ms: Vec<f64> = keep.iter().map(|&i| m[i]).collect();
        let fit = gamma_gamma::fit(&xs, &ms, penalizer)?;
        Ok((fit.params.as_array(), fit.n_customers))
    }

    /// `n` customers drawn from a BG/NBD with CDNOW-like parameters (r 0.243, α 4.414,
    /// a 0.793, b 2.426), ages 19.5–39 weeks: x, t_x, T.
    pub fn simulate_cdnow_like(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let p = BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let rfm = simulate::bgnbd_rfm(&p, n, 39.0, seed);
        (rfm.frequency, rfm.recency, rfm.age)
    }
}
