//! `fluz segment`: k-means for every k in the range on the transformed features, metrics per
//! k (`k_selection`), best k by silhouette, personas, `customer_segments`,
//! `segment_profiles`, `k_selection.png` and `segments.png`.

use std::time::Instant;

use anyhow::{Context as _, Result};
use polars::prelude::*;
use rayon::prelude::*;

use super::{f64_column, i64_column};
use crate::features::describe::quantile_sorted;
use crate::report::charts;
use crate::segment::kmeans::{kmeans, KMeansFit, KMeansParams};
use crate::segment::metrics::{
    calinski_harabasz, cluster_sizes, davies_bouldin, silhouette_exact, silhouette_sampled,
};
use crate::segment::personas::{name_segments, SegmentStats};
use crate::segment::transform;
use crate::{progress, store, Context};

/// One row of `k_selection`.
#[derive(Clone, Debug)]
pub struct KResult {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: f64,
    pub davies_bouldin: f64,
    pub calinski_harabasz: f64,
    pub min_cluster_size: usize,
    pub silhouette_exact: bool,
    pub best: bool,
}

/// What the stage produced, for run-all's summary.
pub struct SegmentOutcome {
    pub best_k: usize,
    pub k_rows: Vec<KResult>,
    pub personas: Vec<String>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Renumbers clusters so that cluster 0 has the highest mean total spend.
fn relabel_by_spend(fit: &KMeansFit, spend: &[f64]) -> Vec<usize> {
    let k = fit.k;
    let mut sums = vec![0.0; k];
    let mut counts = vec![0usize; k];
    for (&label, &s) in fit.labels.iter().zip(spend) {
        sums[label] += s;
        counts[label] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    let avg = |c: usize| {
        if counts[c] == 0 {
            f64::NEG_INFINITY
        } else {
            sums[c] / counts[c] as f64
        }
    };
    order.sort_by(|&a, &b| avg(b).total_cmp(&avg(a)).then(a.cmp(&b)));
    let mut new_label = vec![0; k];
    for (new, &old) in order.iter().enumerate() {
        new_label[old] = new;
    }
    fit.labels.iter().map(|&l| new_label[l]).collect()
}

/// Runs the stage.
pub fn run(ctx: &Context) -> Result<SegmentOutcome> {
    let started = Instant::now();
    let config = &ctx.config.segment;
    let mut store = store::open(&ctx.config)?;
    let features = store.read_table("customer_features")?;
    let features = super::clv::with_customer_value(store.as_mut(), features, &config.features)?;
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
    let exact = n <= config.silhouette_exact_max;
    let ks: Vec<usize> = (config.k_min..=config.k_max).collect();
    let bar = progress::bar(ctx.progress, ks.len() as u64, "segment: k sweep");
    // k values run one after another; each k-means and silhouette is parallel inside.
    let mut fits = Vec::with_capacity(ks.len());
    let mut rows = Vec::with_capacity(ks.len());
    for &k in &ks {
        let fit = kmeans(
            &x,
            &KMeansParams {
                k,
                n_init: config.n_init,
                max_iter: config.max_iter,
                tol: config.tol,
                seed: config.seed,
            },
        )
        .with_context(|| format!("k-means with k = {k}"))?;
        let silhouette = if exact {
            silhouette_exact(&x, &fit.labels, k)
        } else {
            silhouette_sampled(
                &x,
                &fit.labels,
                k,
                config.silhouette_sample_size,
                config.seed,
            )
        };
        let sizes = cluster_sizes(&fit.labels, k);
        rows.push(KResult {
            k,
            inertia: fit.inertia,
            silhouette,
            davies_bouldin: davies_bouldin(&x, &fit.labels, k),
            calinski_harabasz: calinski_harabasz(&x, &fit.labels, k),
            min_cluster_size: sizes.iter().copied().min().unwrap_or(0),
            silhouette_exact: exact,
            best: false,
        });
        fits.push(fit);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let best_index = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.silhouette.is_finite())
        .max_by(|(ia, a), (ib, b)| a.silhouette.total_cmp(&b.silhouette).then(ib.cmp(ia)))
        .map(|(i, _)| i)
        .context("no k gave a finite silhouette")?;
    rows[best_index].best = true;
    let best_k = rows[best_index].k;
    let spend = f64_column(&features, "total_spent")?;
    let labels = relabel_by_spend(&fits[best_index], &spend);

    // Profiles.
    let profile_columns = [
        "avg_item_price",
        "spend_to_price_ratio",
        "n_invoices",
        "n_lines",
        "avg_basket_value",
        "recency_days",
        "tenure_days",
        "social_degree",
    ];
    let raw: Vec<Vec<f64>> = profile_columns
        .iter()
        .map(|c| f64_column(&features, c))
        .collect::<Result<_>>()?;
    let total_revenue: f64 = spend.iter().sum();
    let members: Vec<Vec<usize>> = (0..best_k)
        .map(|c| (0..n).filter(|&i| labels[i] == c).collect())
        .collect();
    let median_of = |rows: &[usize]| {
        let mut values: Vec<f64> = rows.iter().map(|&i| spend[i]).collect();
        values.sort_by(f64::total_cmp);
        quantile_sorted(&values, 0.5)
    };
    let stats_of = |rows: &[usize]| SegmentStats {
        size: rows.len(),
        median_total_spent: median_of(rows),
        mean_avg_item_price: mean(rows.iter().map(|&i| raw[0][i])),
        mean_spend_to_price_ratio: mean(rows.iter().map(|&i| raw[1][i])),
        mean_n_invoices: mean(rows.iter().map(|&i| raw[2][i])),
        mean_recency_days: mean(rows.iter().map(|&i| raw[5][i])),
    };
    let all: Vec<usize> = (0..n).collect();
    let overall = stats_of(&all);
    let segment_stats: Vec<SegmentStats> = members.iter().map(|m| stats_of(m)).collect();
    let personas = name_segments(&segment_stats, &overall);

    let customer_ids = i64_column(&features, "customer_id")?;
    let segments_table = DataFrame::new(
        n,
        vec![
            Column::new("customer_id".into(), customer_ids),
            Column::new(
                "cluster".into(),
                labels.iter().map(|&l| l as i64).collect::<Vec<i64>>(),
            ),
            Column::new(
                "persona".into(),
                labels
                    .iter()
                    .map(|&l| personas[l].clone())
                    .collect::<Vec<String>>(),
            ),
        ],
    )?;
    let per = |f: &dyn Fn(&[usize]) -> f64| members.iter().map(|m| f(m)).collect::<Vec<f64>>();
    let col_mean = |index: usize| per(&|m: &[usize]| mean(m.iter().map(|&i| raw[index][i])));
    let profiles = DataFrame::new(
        best_k,
        vec![
            Column::new("cluster".into(), (0..best_k as i64).collect::<Vec<i64>>()),
            Column::new("persona".into(), personas.clone()),
            Column::new(
                "size".into(),
                members.iter().map(|m| m.len() as i64).collect::<Vec<i64>>(),
            ),
            Column::new(
                "share_customers".into(),
                per(&|m: &[usize]| m.len() as f64 / n as f64),
            ),
            Column::new(
                "share_revenue".into(),
                per(&|m: &[usize]| m.iter().map(|&i| spend[i]).sum::<f64>() / total_revenue),
            ),
            Column::new(
                "mean_total_spent".into(),
                per(&|m: &[usize]| mean(m.iter().map(|&i| spend[i]))),
            ),
            Column::new(
                "median_total_spent".into(),
                per(&|m: &[usize]| median_of(m)),
            ),
            Column::new("mean_avg_item_price".into(), col_mean(0)),
            Column::new("mean_spend_to_price_ratio".into(), col_mean(1)),
            Column::new("mean_n_invoices".into(), col_mean(2)),
            Column::new("mean_n_lines".into(), col_mean(3)),
            Column::new("mean_avg_basket_value".into(), col_mean(4)),
            Column::new("mean_recency_days".into(), col_mean(5)),
            Column::new("mean_tenure_days".into(), col_mean(6)),
            Column::new("mean_social_degree".into(), col_mean(7)),
        ],
    )?;
    let k_table = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "k".into(),
                rows.iter().map(|r| r.k as i64).collect::<Vec<i64>>(),
            ),
            Column::new(
                "inertia".into(),
                rows.iter().map(|r| r.inertia).collect::<Vec<f64>>(),
            ),
            Column::new(
                "silhouette".into(),
                rows.iter().map(|r| r.silhouette).collect::<Vec<f64>>(),
            ),
            Column::new(
                "davies_bouldin".into(),
                rows.iter().map(|r| r.davies_bouldin).collect::<Vec<f64>>(),
            ),
            Column::new(
                "calinski_harabasz".into(),
                rows.iter()
                    .map(|r| r.calinski_harabasz)
                    .collect::<Vec<f64>>(),
            ),
            Column::new(
                "min_cluster_size".into(),
                rows.iter()
                    .map(|r| r.min_cluster_size as i64)
                    .collect::<Vec<i64>>(),
            ),
            Column::new(
                "silhouette_exact".into(),
                rows.iter()
                    .map(|r| r.silhouette_exact)
                    .collect::<Vec<bool>>(),
            ),
            Column::new(
                "best".into(),
                rows.iter().map(|r| r.best).collect::<Vec<bool>>(),
            ),
        ],
    )?;
    store.write_table("k_selection", &k_table)?;
    store.write_table("customer_segments", &segments_table)?;
    store.write_table("segment_profiles", &profiles)?;

    let out_dir = &ctx.config.export.out_dir;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let chart_rows: Vec<charts::KRow> = rows
        .iter()
        .map(|r| charts::KRow {
            k: r.k,
            inertia: r.inertia,
            silhouette: r.silhouette,
            davies_bouldin: r.davies_bouldin,
            calinski_harabasz: r.calinski_harabasz,
            min_cluster_size: r.min_cluster_size,
            best: r.best,
        })
        .collect();
    let price = &raw[0];
    let points: Vec<charts::SegmentPoint> = (0..n)
        .into_par_iter()
        .map(|i| charts::SegmentPoint {
            total_spent: spend[i],
            avg_item_price: price[i],
            cluster: labels[i],
        })
        .collect();
    let summaries: Vec<charts::SegmentSummary> = (0..best_k)
        .map(|c| charts::SegmentSummary {
            cluster: c,
            persona: personas[c].clone(),
            size: members[c].len(),
            share_revenue: members[c].iter().map(|&i| spend[i]).sum::<f64>() / total_revenue,
        })
        .collect();
    charts::k_selection(&out_dir.join("k_selection.png"), &chart_rows)?;
    charts::segments(&out_dir.join("segments.png"), &points, &summaries)?;
    super::record_stage(
        store.as_mut(),
        "segment",
        started,
        n,
        serde_json::json!({ "best_k": best_k, "silhouette": rows[best_index].silhouette, "silhouette_exact": exact }),
    )?;
    if !ctx.quiet {
        println!(
            "{:>3} {:>14} {:>10} {:>10} {:>12} {:>9}",
            "k", "inertia", "silhouette", "DB", "CH", "smallest"
        );
        for r in &rows {
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
            if exact {
                "exact"
            } else {
                "sampled (stratified by cluster)"
            }
        );
        for (c, persona) in personas.iter().enumerate() {
            println!("  cluster {c}: {persona} ({} customers)", members[c].len());
        }
    }
    Ok(SegmentOutcome {
        best_k,
        k_rows: rows,
        personas,
    })
}
