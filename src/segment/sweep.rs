//! The k sweep: k-means for every k of a range, the quality metrics of each, and the best k by
//! silhouette (ties → the smaller k).

use super::kmeans::{kmeans, KMeansError, KMeansParams};
use super::metrics::{
    calinski_harabasz, cluster_sizes, davies_bouldin, silhouette_exact, silhouette_sampled,
};
use crate::learn::matrix::Matrix;

/// Parameters of the sweep (validated settings).
#[derive(Clone, Debug)]
pub(crate) struct SweepParams {
    pub k_min: usize,
    pub k_max: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    /// Exact silhouette up to this many customers, sampled above.
    pub silhouette_exact_max: usize,
    pub silhouette_sample_size: usize,
}

/// One row of `k_selection`: the one k-row type (the sweep, the chart and the dashboard).
#[derive(Clone, Debug, Default, serde::Serialize)]
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

/// The sweep's outcome: a row per k and the best k's cluster labels (as k-means numbered them).
#[derive(Clone, Debug)]
pub(crate) struct Sweep {
    pub rows: Vec<KResult>,
    pub best_index: usize,
    pub best_labels: Vec<usize>,
    pub exact: bool,
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SweepError {
    #[error("k-means with k = {k}: {source}")]
    KMeans { k: usize, source: KMeansError },
    #[error("no k gave a finite silhouette")]
    NoFiniteSilhouette,
}

/// Runs k-means for every k in `k_min..=k_max` one after another (each is parallel inside),
/// calling `on_k` after each.
pub(crate) fn sweep(
    x: &Matrix,
    params: &SweepParams,
    on_k: &dyn Fn(),
) -> Result<Sweep, SweepError> {
    let exact = x.n_rows <= params.silhouette_exact_max;
    let mut labels_per_k = Vec::new();
    let mut rows = Vec::new();
    for k in params.k_min..=params.k_max {
        let fit = kmeans(
            x,
            &KMeansParams {
                k,
                n_init: params.n_init,
                max_iter: params.max_iter,
                tol: params.tol,
                seed: params.seed,
            },
        )
        .map_err(|source| SweepError::KMeans { k, source })?;
        let silhouette = if exact {
            silhouette_exact(x, &fit.labels, k)
        } else {
            silhouette_sampled(
                x,
                &fit.labels,
                k,
                params.silhouette_sample_size,
                params.seed,
            )
        };
        let sizes = cluster_sizes(&fit.labels, k);
        rows.push(KResult {
            k,
            inertia: fit.inertia,
            silhouette,
            davies_bouldin: davies_bouldin(x, &fit.labels, k),
            calinski_harabasz: calinski_harabasz(x, &fit.labels, k),
            min_cluster_size: sizes.iter().copied().min().unwrap_or(0),
            silhouette_exact: exact,
            best: false,
        });
        labels_per_k.push(fit.labels);
        on_k();
    }
    let best_index = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.silhouette.is_finite())
        .max_by(|(ia, a), (ib, b)| a.silhouette.total_cmp(&b.silhouette).then(ib.cmp(ia)))
        .map(|(i, _)| i)
        .ok_or(SweepError::NoFiniteSilhouette)?;
    rows[best_index].best = true;
    Ok(Sweep {
        rows,
        best_index,
        best_labels: labels_per_k.swap_remove(best_index),
        exact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_separated_blobs_pick_k_three() {
        let mut columns = vec![Vec::new(), Vec::new()];
        for (cx, cy) in [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)] {
            for i in 0..20 {
                let d = (i as f64 * 0.37).sin() * 0.3;
                columns[0].push(cx + d);
                columns[1].push(cy - d * 0.5);
            }
        }
        let x = Matrix::from_columns(&columns);
        let params = SweepParams {
            k_min: 2,
            k_max: 5,
            n_init: 4,
            max_iter: 100,
            tol: 1e-6,
            seed: 7,
            silhouette_exact_max: 1000,
            silhouette_sample_size: 100,
        };
        let calls = std::cell::Cell::new(0);
        let sweep = sweep(&x, &params, &|| calls.set(calls.get() + 1)).unwrap();
        assert_eq!(calls.get(), 4);
        assert_eq!(sweep.rows.len(), 4);
        assert_eq!(sweep.rows[sweep.best_index].k, 3);
        assert!(sweep.rows[sweep.best_index].best);
        assert_eq!(sweep.rows.iter().filter(|r| r.best).count(), 1);
        assert_eq!(sweep.best_labels.len(), 60);
        assert!(sweep.exact);
        assert_eq!(sweep.rows[1].min_cluster_size, 20);
    }
}
