//! The holdout check without a calibration end: the models fitted again on all but the last
//! days, their expectation compared with what those days saw.

use std::collections::HashMap;

use super::rfm::{summarise, Periods, Purchase};
use super::{analyse, ClvParams, ClvResult, Rfm};

/// Refits on all but the last `days` days of `purchases` and checks on them; `customer_id` and
/// `margin` are the main summary's customers and margins. The check is a diagnostic: when the
/// purchases before the held-out days span less than half of them, or its fit fails, it is
/// skipped with a warning (`None`) and the values (from the fit on everything) stand.
pub(crate) fn holdout_check(
    purchases: &[Purchase],
    customer_id: &[i64],
    margin: &[f64],
    days: u32,
    params: &ClvParams,
) -> Option<(Rfm, ClvResult)> {
    let margin_of: HashMap<i64, f64> = customer_id
        .iter()
        .copied()
        .zip(margin.iter().copied())
        .collect();
    let days = i64::from(days);
    let first = purchases.iter().map(|p| p.day).min().unwrap_or(0);
    let last = purchases.iter().map(|p| p.day).max().unwrap_or(0);
    // A calibration period at least half as long as the holdout.
    if 2 * (last - days - first) < days {
        tracing::warn!(
            "clv: no holdout check: the purchases span {} days, too few to hold out the last [clv] check_days = {days} (the rest must span at least half of it)",
            last - first
        );
        return None;
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
            return None;
        }
    };
    // The check's customers bought before its end, so all are in the main summary: their
    // margins are known, no second read of customer_features.
    let margin: Vec<f64> = rfm.customer_id.iter().map(|id| margin_of[id]).collect();
    match analyse(&rfm, &margin, params) {
        Ok(result) => Some((rfm, result)),
        Err(err) => {
            tracing::warn!("clv: no holdout check of the last {days} days: {err}");
            None
        }
    }
}
