//! The tables `segment` writes: `customer_segments`, `segment_profiles` and `k_selection`.

use anyhow::Result;
use polars::prelude::DataFrame;

use super::profiles::Profile;
use super::sweep::KResult;
use crate::frame::Table;

/// `customer_segments`: each customer's cluster and persona.
pub(crate) fn customer_segments(
    customer_id: Vec<i64>,
    labels: &[usize],
    personas: &[String],
) -> Result<DataFrame> {
    Table::new(labels.len())
        .col("customer_id", customer_id)
        .col("cluster", labels.iter().map(|&l| l as i64))
        .col("persona", labels.iter().map(|&l| personas[l].as_str()))
        .build()
}

/// `segment_profiles`: one row per segment.
pub(crate) fn segment_profiles(p: &[Profile]) -> Result<DataFrame> {
    Table::new(p.len())
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
        .build()
}

/// `k_selection`: the metrics of every k swept.
pub(crate) fn k_selection(rows: &[KResult]) -> Result<DataFrame> {
    Table::new(rows.len())
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
        .build()
}
