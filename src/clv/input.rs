//! What a CLV analysis reads and how its holdout is checked: the input (a ready RFM summary, a
//! purchases file or the store's transactions, [`ClvInput`]) summarised over the periods
//! ([`summarise_input`]), and the fit with its check ([`analyse_with_check`]): with a
//! calibration end the summary carries its own holdout; without one, and with purchases to
//! cut, the check is a second fit with the last `check_days` days held out.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::check::holdout_check;
use super::readers::{read_purchases, read_rfm, PurchaseColumns};
use super::rfm::{summarise, Periods, Purchase, RfmCounts};
use super::{analyse, ClvError, ClvParams, ClvResult, HoldoutSummary, Rfm};
use crate::error::user_error;

/// Where the RFM summary comes from.
#[derive(Clone, Debug)]
pub(crate) enum ClvInput {
    /// A ready RFM summary CSV.
    Rfm(PathBuf),
    /// A purchases file (CDNOW layouts or a CSV with the named columns).
    Purchases {
        path: PathBuf,
        columns: PurchaseColumns,
    },
    /// The store's `transactions`.
    Transactions,
}

impl ClvInput {
    /// A ready RFM summary when `rfm` is given, else a purchases file when `purchases` is,
    /// else the store's transactions.
    pub(crate) fn choose(rfm: &Path, purchases: &Path, columns: PurchaseColumns) -> Self {
        if !rfm.as_os_str().is_empty() {
            Self::Rfm(rfm.to_path_buf())
        } else if !purchases.as_os_str().is_empty() {
            Self::Purchases {
                path: purchases.to_path_buf(),
                columns,
            }
        } else {
            Self::Transactions
        }
    }

    /// The input in words, for messages and the manifest.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Rfm(path) => format!("RFM summary {}", path.display()),
            Self::Purchases { path, .. } => format!("purchases file {}", path.display()),
            Self::Transactions => "the store's transactions".to_string(),
        }
    }
}

/// How the input is read, cut and checked (validated by the caller).
#[derive(Clone, Debug)]
pub(crate) struct InputParams {
    pub input: ClvInput,
    /// The calibration period and holdout of purchases (unused for a ready summary).
    pub periods: Periods,
    /// Without a calibration end: refit without the last this many days (0 = no check).
    pub check_days: u32,
    /// Largest decompressed input file.
    pub max_bytes: u64,
}

/// The input summarised, with the purchases behind it (none for a ready summary).
pub(crate) struct Summarised {
    pub rfm: Rfm,
    pub counts: RfmCounts,
    pub purchases: Option<Vec<Purchase>>,
}

/// Reads the input and summarises it over `params.periods`; `transactions` gives the store's
/// purchases and is called only when the input is the store.
pub(crate) fn summarise_input(
    params: &InputParams,
    transactions: impl FnOnce() -> Result<Vec<Purchase>>,
) -> Result<Summarised> {
    let purchases = match &params.input {
        ClvInput::Rfm(path) => {
            return Ok(Summarised {
                rfm: read_rfm(path, params.max_bytes)?,
                counts: RfmCounts::default(),
                purchases: None,
            })
        }
        ClvInput::Purchases { path, columns } => read_purchases(path, columns, params.max_bytes)?,
        ClvInput::Transactions => transactions()?,
    };
    let (rfm, counts) = summarise(&purchases, &params.periods)
        .map_err(|why| user_error(format!("{}: {why}", params.input.name())))?;
    Ok(Summarised {
        rfm,
        counts,
        purchases: Some(purchases),
    })
}

/// A fit and its holdout check.
pub(crate) struct Analysis {
    /// The fit on the whole summary: the values come from it.
    pub result: ClvResult,
    /// The refit without the last `check_days` days, when there was one.
    pub check: Option<(Rfm, ClvResult)>,
    /// The days held out by `check`.
    pub check_days: Option<u32>,
}

impl Analysis {
    /// The holdout reported: the check's when there is one, else the summary's own (with a
    /// calibration end).
    pub(crate) fn holdout(&self) -> Option<&HoldoutSummary> {
        match &self.check {
            Some((_, checked)) => checked.holdout.as_ref(),
            None => self.result.holdout.as_ref(),
        }
    }
}

/// Fits both models on `input` ([`analyse`]) and, without a calibration end and with purchases
/// to cut, checks them by a second fit with the last `check_days` days held out
/// ([`holdout_check`], skipped with a warning when it cannot be done). Warns when the BG/NBD
/// fit has no standard errors.
pub(crate) fn analyse_with_check(
    input: &Summarised,
    margin: &[f64],
    params: &InputParams,
    clv: &ClvParams,
) -> Result<Analysis, ClvError> {
    let result = analyse(&input.rfm, margin, clv)?;
    let check = match &input.purchases {
        Some(purchases) if params.periods.calibration_end.is_none() && params.check_days > 0 => {
            holdout_check(
                purchases,
                &input.rfm.customer_id,
                margin,
                params.check_days,
                clv,
            )
        }
        _ => None,
    };
    if result.bgnbd.std_errors.is_none() {
        let p = result.bgnbd.params;
        tracing::warn!(
            "BG/NBD: the Hessian is not positive definite at the optimum (r = {:.4}, alpha = {:.4}, a = {:.3e}, b = {:.3e}): a parameter ran to the edge of its range (a → 0 means the data show no dropout), so the standard errors are left empty; a [clv] penalizer keeps the parameters finite",
            p.r, p.alpha, p.a, p.b
        );
    }
    let check_days = check.as_ref().map(|_| params.check_days);
    Ok(Analysis {
        result,
        check,
        check_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_named_for_messages() {
        let columns = PurchaseColumns {
            customer: "c".into(),
            date: "d".into(),
            value: "v".into(),
        };
        assert_eq!(ClvInput::Rfm("s.csv".into()).name(), "RFM summary s.csv");
        assert_eq!(
            ClvInput::Purchases {
                path: "p.txt".into(),
                columns
            }
            .name(),
            "purchases file p.txt"
        );
        assert_eq!(ClvInput::Transactions.name(), "the store's transactions");
    }
}
