//! The lifetime-value analysis's parameters.

use anyhow::Result;

use crate::clv::input::{ClvInput, InputParams};
use crate::clv::readers::PurchaseColumns;
use crate::clv::rfm::Periods;
use crate::clv::{ClvParams, TimeUnit};
use crate::config::{ClvConfig, ClvTimeUnit, Config};

/// The CLV analysis's parameters.
pub(crate) fn clv(config: &Config) -> ClvParams {
    let clv = &config.clv;
    ClvParams {
        unit: clv_time_unit(clv),
        penalizer: clv.penalizer,
        gamma_gamma_penalizer: clv.gamma_gamma_penalizer,
        horizon_months: clv.horizon_months,
        discount_rate_monthly: clv.discount_rate_monthly,
    }
}

/// Where the CLV analysis reads from, its periods and its holdout check.
pub(crate) fn clv_input(config: &Config) -> Result<InputParams> {
    let clv = &config.clv;
    let columns = PurchaseColumns {
        customer: clv.customer_column.clone(),
        date: clv.date_column.clone(),
        value: clv.value_column.clone(),
    };
    Ok(InputParams {
        input: ClvInput::choose(&clv.rfm, &clv.transactions, columns),
        periods: Periods {
            unit: clv_time_unit(clv),
            calibration_end: ClvConfig::day("calibration_end", &clv.calibration_end)?,
            observation_end: ClvConfig::day("observation_end", &clv.observation_end)?,
        },
        // Any calibration_end text (even blank) turns the check off.
        check_days: if clv.calibration_end.is_empty() {
            clv.check_days
        } else {
            0
        },
        max_bytes: config.ingest.max_decompressed_bytes,
    })
}

/// The unit of recency, T and expected purchases.
pub(crate) fn clv_time_unit(clv: &ClvConfig) -> TimeUnit {
    match clv.time_unit {
        ClvTimeUnit::Days => TimeUnit::Days,
        ClvTimeUnit::Weeks => TimeUnit::Weeks,
    }
}
