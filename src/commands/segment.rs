//! `fluz segment`: k-means for every k in the range on the transformed features, metrics per
//! k (`k_selection`), best k by silhouette, personas, `customer_segments`,
//! `segment_profiles`, `k_selection.png` and `segments.png`.

use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::DataFrame;

use super::table::{f64_column, i64_column, Table};
use crate::segment::profiles::{profiles, relabel_by_spend, ProfileInputs};
use crate::segment::sweep::{sweep, KResult, SweepParams};
use crate::segment::transform;
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
    if n < config.k_max + 1 {
        return Err(crate::error::user_error(format!(
            "segmenting needs more customers than [segment] k_max ({}); customer_features has {n}",
            config.k_max
        )));
    }
    let columns: Vec<Vec<f64>> = config
        .features
        .iter()
        .map(|name| f64_column(&features, name))
        .collect::<Result<_>>()?;
    let x = transform(&columns, config.transform);
    let params = SweepParams {
        k_min: config.k_min,
        k_max: config.k_max,
        n_init: config.n_init,
        max_iter: config.max_iter,
        tol: config.tol,
        seed: config.seed,
        silhouette_exact_max: config.silhouette_exact_max,
        silhouette_sample_size: config.silhouette_sample_size,
    };
    let bar = progress::bar(
        ctx.progress,
        (config.k_max + 1 - config.k_min) as u64,
        "segment: k sweep",
    );
    let sweep = sweep(&x, &params, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let rows = &sweep.rows;
    let best_k = rows[sweep.best_index].k;

    let column = |name: &str| f64_column(&features, name);
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
    let segments = profiles(
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
    let personas: Vec<String> = segments.iter().map(|p| p.persona.clone()).collect();

    let segments_table = Table::new(n)
        .col("customer_id", i64_column(&features, "customer_id")?)
        .col("cluster", labels.iter().map(|&l| l as i64))
        .col("persona", labels.iter().map(|&l| personas[l].as_str()))
        .build()?;
    let p = &segments;
    let profiles_table = Table::new(best_k)
        .col("cluster", p.iter().map(|s| s.cluster as i64))
        .col("persona", p.iter().map(|s| s.persona.as_str()))
        .col("size", p.iter().map(|s| s.size as i64))
        .col("share_customers", p.iter().map(|s| s.share_customers))
        .col("share_revenue", p.iter().map(|s| s.share_revenue))
        .col("mean_total_spent", p.iter().map(|s| s.mean_total_spent))
        .col("median_total_spent", p.iter().map(|s| s.median_total_spent))
        .col(
            "mean_avg_item_price",
            p.iter().map(|s| s.mean_avg_item_price),
        )
        .col(
            "mean_spend_to_price_ratio",
            p.iter().map(|s| s.mean_spend_to_price_ratio),
        )
        .col("mean_n_invoices", p.iter().map(|s| s.mean_n_invoices))
        .col("mean_n_lines", p.iter().map(|s| s.mean_n_lines))
        .col(
            "mean_avg_basket_value",
            p.iter().map(|s| s.mean_avg_basket_value),
        )
        .col("mean_recency_days", p.iter().map(|s| s.mean_recency_days))
        .col("mean_tenure_days", p.iter().map(|s| s.mean_tenure_days))
        .col("mean_social_degree", p.iter().map(|s| s.mean_social_degree))
        .build()?;
    let k_table = Table::new(rows.len())
        .col("k", rows.iter().map(|r| r.k as i64))
        .col("inertia", rows.iter().map(|r| r.inertia))
        .col("silhouette", rows.iter().map(|r| r.silhouette))
        .col("davies_bouldin", rows.iter().map(|r| r.davies_bouldin))
        .col(
            "calinski_harabasz",
            rows.iter().map(|r| r.calinski_harabasz),
        )
        .col(
            "min_cluster_size",
            rows.iter().map(|r| r.min_cluster_size as i64),
        )
        .col("silhouette_exact", rows.iter().map(|r| r.silhouette_exact))
        .col("best", rows.iter().map(|r| r.best))
        .build()?;
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
