//! `fluz segment`: k-means for every k in the range on the transformed features, metrics per
//! k (`k_selection`), best k by silhouette, personas, `customer_segments`,
//! `segment_profiles`, `k_selection.png` and `segments.png`.

use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::DataFrame;

use super::table::i64_column;
use crate::segment::segmentation::{feature_matrix, segment, Segmentation};
use crate::segment::sweep::KResult;
use crate::segment::tables;
use crate::store::Store;
use crate::{progress, Context};

/// What the stage produced, for run-all's summary.
pub(crate) struct SegmentOutcome {
    pub best_k: usize,
    pub k_rows: Vec<KResult>,
    pub personas: Vec<String>,
}

/// `features` with the `customer_value` columns among `names` (the `[segment] features`)
/// appended; unchanged, and customer_value not read, when `names` has none.
fn with_customer_value(
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
    crate::clv::tables::with_customer_value(features, &values, &wanted)
}

/// Runs the stage.
pub(crate) fn run(ctx: &Context, store: &mut dyn Store) -> Result<SegmentOutcome> {
    let started = Instant::now();
    let config = &ctx.config.segment;
    let features = store.read_table("customer_features")?;
    let features = with_customer_value(store, features, &config.features)?;
    let n = features.height();
    let params = super::params::segment(&ctx.config);
    let x = feature_matrix(&features, &params)?;
    let bar = progress::bar(
        ctx.progress,
        (config.k_max + 1 - config.k_min) as u64,
        "segment: k sweep",
    );
    let segmentation = segment(&features, &x, &params, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let Segmentation {
        sweep,
        best_k,
        labels,
        profiles: segments,
        personas,
        total_spent: spend,
        avg_item_price: price,
    } = segmentation;
    let rows = &sweep.rows;
    let customer_ids = i64_column(&features, "customer_id")?;
    let segments_table = tables::customer_segments(customer_ids, &labels, &personas)?;
    let profiles_table = tables::segment_profiles(&segments)?;
    let k_table = tables::k_selection(rows)?;
    store.write_table("k_selection", &k_table)?;
    store.write_table("customer_segments", &segments_table)?;
    store.write_table("segment_profiles", &profiles_table)?;

    let out_dir = &ctx.config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    crate::report::pngs::segments(out_dir, rows, &spend, &price, &labels, &segments)?;
    super::record_stage(
        store,
        "segment",
        started,
        n,
        serde_json::json!({ "best_k": best_k, "silhouette": rows[sweep.best_index].silhouette, "silhouette_exact": sweep.exact }),
    )?;
    if !ctx.quiet {
        println!(
            "{:>3} {:>14} {:>10} {:>10} {:>12} {:>9}",
            "k", "inertia", "silhouette", "DB", "CH", "smallest"
        );
        for r in rows {
            println!(
                "{:>3} {:>14.3} {:>10.4} {:>10.4} {:>12.2} {:>9}{}",
                r.k,
                r.inertia,
                r.silhouette,
                r.davies_bouldin,
                r.calinski_harabasz,
                r.min_cluster_size,
                if r.best { "  ← best" } else { "" }
            );
        }
        println!(
            "silhouette {} ; best k = {best_k}",
            if sweep.exact {
                "exact"
            } else {
                "sampled (stratified by cluster)"
            }
        );
        for s in &segments {
            println!(
                "  cluster {}: {} ({} customers)",
                s.cluster, s.persona, s.size
            );
        }
    }
    Ok(SegmentOutcome {
        best_k,
        k_rows: sweep.rows,
        personas,
    })
}
