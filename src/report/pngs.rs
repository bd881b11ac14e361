//! Each stage's PNGs in one call: the figures of [`super::figures`] laid out and drawn by
//! [`super::charts::draw_figures`], so that a command only says which chart to write.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::DataFrame;

use super::charts::{draw_figures, Result};
use super::figures::{self, SegmentPoint, SegmentSummary};
use super::stage_views::{self, ClvHoldoutRow};
use crate::clv::HoldoutRow;
use crate::numfmt::Money;
use crate::segment::profiles::Profile;
use crate::segment::sweep::KResult;

/// `k_selection.png` and `segments.png`: the metrics against k, and every customer's price
/// vs spend by segment beside the segments' shares.
pub(crate) fn segments(
    out_dir: &Path,
    rows: &[KResult],
    spend: &[f64],
    price: &[f64],
    labels: &[usize],
    profiles: &[Profile],
) -> Result<()> {
    draw_figures(
        "k_selection.png",
        &out_dir.join("k_selection.png"),
        Some(&figures::k_selection_title(rows)),
        &figures::k_selection(rows),
        2,
        (700, 475),
    )?;
    let points: Vec<SegmentPoint> = (0..labels.len())
        .map(|i| SegmentPoint {
            total_spent: spend[i],
            avg_item_price: price[i],
            cluster: labels[i],
        })
        .collect();
    let summaries: Vec<SegmentSummary> = profiles
        .iter()
        .map(|s| SegmentSummary {
            cluster: s.cluster,
            persona: s.persona.clone(),
            size: s.size,
            share_revenue: s.share_revenue,
        })
        .collect();
    let shown: Vec<_> = [
        figures::price_spend(&points, &summaries, figures::MAX_SCATTER_POINTS, |_| {
            String::new()
        }),
        figures::segment_shares(&summaries),
    ]
    .into_iter()
    .flatten()
    .collect();
    draw_figures(
        "segments.png",
        &out_dir.join("segments.png"),
        Some(&format!("Customer segments — k = {}", summaries.len())),
        &shown,
        2,
        (900, 760),
    )
}

/// `qini.png` from the `uplift_curve` and `uplift_metrics` tables: a panel per outcome and
/// arm vs `control`.
pub(crate) fn qini(
    out_dir: &Path,
    curves: &DataFrame,
    metrics: &DataFrame,
    control: &str,
) -> anyhow::Result<()> {
    let series = stage_views::qini_series(curves, metrics)?;
    let path = out_dir.join("qini.png");
    draw_figures(
        "qini.png",
        &path,
        None,
        &figures::qini(&series, control),
        2,
        (720, 520),
    )?;
    Ok(())
}

/// `budget_curve.png` from the allocation's tables (by table name); nothing without a curve.
pub(crate) fn budget_curve(
    out_dir: &Path,
    tables: &HashMap<&str, DataFrame>,
    currency: &str,
) -> anyhow::Result<()> {
    let Some(view) = stage_views::budget_view(tables)? else {
        return Ok(());
    };
    let mut figure = figures::budget_curve(&view, &Money::new(currency), true);
    figure.title = "Cashback budget: targeted allocation vs flat rates".into();
    let path = out_dir.join("budget_curve.png");
    draw_figures("budget_curve.png", &path, None, &[figure], 1, (1200, 800))?;
    Ok(())
}

/// `clv_holdout.png` at `path`: holdout purchases, actual vs expected, over `period`
/// ("39.0 weeks"); nothing without rows.
pub(crate) fn clv_holdout(path: &Path, rows: &[HoldoutRow], period: &str) -> Result<()> {
    let rows: Vec<ClvHoldoutRow> = rows
        .iter()
        .map(|r| ClvHoldoutRow {
            calibration_frequency: r.calibration_frequency.clone(),
            customers: r.customers,
            actual_mean: r.actual_mean,
            expected_mean: r.expected_mean,
        })
        .collect();
    match figures::clv_holdout(&rows, Some(period)) {
        Some(figure) => draw_figures("clv_holdout.png", path, None, &[figure], 1, (1000, 620)),
        None => Ok(()),
    }
}

/// `shap_feature_importance.png`: mean |SHAP| per feature; nothing without a finite one.
pub(crate) fn shap_importance(out_dir: &Path, importance: &[(String, f64)]) -> Result<()> {
    let Some(figure) = figures::shap_importance(importance) else {
        return Ok(());
    };
    let height = (120 + 38 * figure.y.names.len() as u32).max(400);
    let path = out_dir.join("shap_feature_importance.png");
    draw_figures(
        "shap_feature_importance.png",
        &path,
        None,
        &[figure],
        1,
        (1200, height),
    )
}
