//! `fluz uplift`'s analysis of a log: the hash split, the `[offers] baseline`, the study
//! ([`super::study`]) and its three tables, in one call ([`analyse`]); and which outcome's
//! policy sets the rates to give ([`Analysis::money_study`]).

use anyhow::Result;
use polars::prelude::DataFrame;

use super::inputs::{self, Split};
use super::{study, tables, Extras, MetricRow, OutcomeStudy, StudyParams};
use crate::sources::offers::OfferLog;

/// How a log is split and studied (validated settings).
#[derive(Clone, Debug)]
pub(crate) struct AnalysisParams {
    /// The seed of the split and fold hashes (`train`'s split seed).
    pub split_seed: u64,
    pub test_percent: u64,
    pub n_folds: u64,
    /// The `[offers] baseline` feature's name (`"auto"`, `""` = none).
    pub baseline: String,
    /// The study's settings; its baseline is set from `baseline`.
    pub study: StudyParams,
}

/// A study of a log and its tables.
pub(crate) struct Analysis {
    pub split: Split,
    pub studies: Vec<OutcomeStudy>,
    /// The study's settings as run (with the baseline).
    pub params: StudyParams,
    /// `uplift_metrics`, `uplift_predictions`, `uplift_curve`.
    pub metrics: DataFrame,
    pub predictions: DataFrame,
    pub curves: DataFrame,
}

impl Analysis {
    /// The money outcome's study, whose policy gives the store's customers their rate.
    pub(crate) fn money_study(&self) -> Option<&OutcomeStudy> {
        self.studies
            .iter()
            .find(|s| s.outcome == self.params.spend_outcome)
    }
}

/// Splits the log's customers (held-out share and folds by the hash of their id), reads the
/// baseline, learns and chooses outcome by outcome, and builds the tables.
pub(crate) fn analyse(
    log: &OfferLog,
    extras: &Extras,
    params: &AnalysisParams,
) -> Result<Analysis> {
    let split = inputs::split(log, params.split_seed, params.test_percent, params.n_folds)?;
    let params = StudyParams {
        baseline: inputs::baseline(&params.baseline, log)?,
        ..params.study.clone()
    };
    let studies = study(log, &split.test, &split.fold, extras, &params);
    let metric_rows: Vec<MetricRow> = studies.iter().flat_map(|s| s.metrics.clone()).collect();
    let metrics = tables::metrics_table(&metric_rows)?;
    let predictions = tables::predictions_table(log, &split.test, &studies, &params.spend_outcome)?;
    let curves = tables::curve_table(&studies)?;
    Ok(Analysis {
        split,
        studies,
        params,
        metrics,
        predictions,
        curves,
    })
}
