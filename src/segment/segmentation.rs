//! The segmentation of `customer_features`: the configured columns transformed
//! ([`feature_matrix`]), the k sweep, the best k's clusters renumbered by spend, and each
//! segment's profile and persona ([`segment`]).

use anyhow::Result;
use polars::prelude::DataFrame;

use super::profiles::{profiles, relabel_by_spend, Profile, ProfileInputs};
use super::sweep::{sweep, Sweep, SweepParams};
use super::{transform, Transform};
use crate::frame::f64_column;
use crate::learn::matrix::Matrix;

/// What to segment on and how (validated settings).
#[derive(Clone, Debug)]
pub(crate) struct SegmentParams {
    /// The columns clustered on (of `customer_features`, or `customer_value` appended to it).
    pub features: Vec<String>,
    pub transform: Transform,
    pub sweep: SweepParams,
}

/// A segmentation: the sweep, the best k and each customer's segment with its profile.
pub(crate) struct Segmentation {
    pub sweep: Sweep,
    pub best_k: usize,
    /// Per customer, the segment (0 = the highest mean spend).
    pub labels: Vec<usize>,
    /// One per segment, in segment order.
    pub profiles: Vec<Profile>,
    pub personas: Vec<String>,
    /// The customers' `total_spent` and `avg_item_price` (the segments chart's axes).
    pub total_spent: Vec<f64>,
    pub avg_item_price: Vec<f64>,
}

/// The transformed columns to cluster; a user error when there are not more customers than
/// the largest k.
pub(crate) fn feature_matrix(features: &DataFrame, params: &SegmentParams) -> Result<Matrix> {
    let n = features.height();
    let k_max = params.sweep.k_max;
    if n < k_max + 1 {
        return Err(crate::error::user_error(format!(
            "segmenting needs more customers than [segment] k_max ({k_max}); customer_features has {n}"
        )));
    }
    let columns: Vec<Vec<f64>> = params
        .features
        .iter()
        .map(|name| f64_column(features, name))
        .collect::<Result<_>>()?;
    Ok(transform(&columns, params.transform))
}

/// Sweeps k on `x` (the [`feature_matrix`] of `features`), calling `on_k` after each k, then
/// renumbers the best k's clusters by spend and profiles them on `features`' columns.
pub(crate) fn segment(
    features: &DataFrame,
    x: &Matrix,
    params: &SegmentParams,
    on_k: &dyn Fn(),
) -> Result<Segmentation> {
    let sweep = sweep(x, &params.sweep, on_k)?;
    let best_k = sweep.rows[sweep.best_index].k;
    let column = |name: &str| f64_column(features, name);
    let (spend, price, ratio, invoices) = (
        column("total_spent")?,
        column("avg_item_price")?,
        column("spend_to_price_ratio")?,
        column("n_invoices")?,
    );
    let (lines, basket, recency, tenure, degree) = (
        column("n_lines")?,
        column("avg_basket_value")?,
        column("recency_days")?,
        column("tenure_days")?,
        column("social_degree")?,
    );
    let labels = relabel_by_spend(&sweep.best_labels, best_k, &spend);
    let profiles = profiles(
        &labels,
        best_k,
        &ProfileInputs {
            total_spent: &spend,
            avg_item_price: &price,
            spend_to_price_ratio: &ratio,
            n_invoices: &invoices,
            n_lines: &lines,
            avg_basket_value: &basket,
            recency_days: &recency,
            tenure_days: &tenure,
            social_degree: &degree,
        },
    );
    let personas = profiles.iter().map(|p| p.persona.clone()).collect();
    Ok(Segmentation {
        sweep,
        best_k,
        labels,
        profiles,
        personas,
        total_spent: spend,
        avg_item_price: price,
    })
}
