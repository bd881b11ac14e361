//! Clustering quality metrics of the k sweep: silhouette (exact, or sampled for large data),
//! Davies–Bouldin, Calinski–Harabasz and cluster sizes.
//!
//! Definitions are scikit-learn's (`sklearn.metrics`), Euclidean distance throughout. Clusters
//! with no point are ignored, as scikit-learn only sees the labels present. Where scikit-learn
//! raises (fewer than two non-empty clusters) these return NaN; when every point is alone in its
//! cluster, where scikit-learn also raises, they return the value of the formula (silhouette 0,
//! Davies–Bouldin 0, Calinski–Harabasz 1).
//!
//! The silhouette never builds an n × n matrix (O(n·k) memory): the points are regrouped by
//! cluster into one contiguous column per feature, so that a row's distances to a cluster are one
//! vectorised loop. The exact silhouette cuts the grouped points into blocks of `TILE`; each pair
//! of blocks is computed once and credited to the rows of both, and the pairs run in parallel in
//! round-robin rounds where no block appears twice. The sampled silhouette computes each sampled
//! row against all rows, rows in parallel in fixed blocks. Every sum runs over fixed lanes and
//! partial results are combined in a fixed order, so results are bit-identical whatever the
//! rayon thread count; the AVX2 kernels (chosen at run time) perform the same IEEE operations in
//! the same order as the portable ones, so results do not depend on the CPU either.

use crate::learn::matrix::Matrix;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// Rows evaluated per parallel work item of the silhouette.
const BLOCK_ROWS: usize = 64;
/// Points per block of the silhouette's distance tiles (a block's columns and per-tile buffers
/// stay in L1).
const TILE: usize = 256;
/// Independent partial sums in a distance sum: lets the compiler vectorise, and keeps the
/// summation order fixed.
const LANES: usize = 8;
/// A sampled silhouette evaluates at least this many points of each cluster (all of a smaller
/// cluster), so that small clusters are represented.
const MIN_SAMPLE_PER_CLUSTER: usize = 50;

/// Number of rows in each cluster `0..k`.
///
/// # Panics
/// If a label is `>= k`.
pub(crate) fn cluster_sizes(labels: &[usize], k: usize) -> Vec<usize> {
    let mut sizes = vec![0; k];
    for &label in labels {
        assert!(label < k, "cluster label {label} is out of range 0..{k}");
        sizes[label] += 1;
    }
    sizes
}

/// Mean silhouette coefficient over all rows, computed exactly (scikit-learn's
/// `silhouette_score`); a row alone in its cluster scores 0.
///
/// Returns NaN when fewer than two clusters are non-empty.
///
/// # Panics
/// If `labels` does not have one entry per row, or a label is `>= k`.
pub fn silhouette_exact(x: &Matrix, labels: &[usize], k: usize) -> f64 {
    let sizes = checked_sizes(x, labels, k);
    if non_empty(&sizes) < 2 {
        return f64::NAN;
    }
    let grouped = Grouped::new(x, labels, &sizes);
    let sums = grouped.all_distance_sums();
    let k = sizes.len();
    let mut total = 0.0;
    for (position, row_sums) in sums.chunks_exact(k).enumerate() {
        total += silhouette_of(row_sums, grouped.labels[position], &sizes);
    }
    total / x.n_rows as f64
}

/// Unbiased estimate of the mean silhouette from a seeded sample stratified by cluster.
///
/// Each cluster contributes a share of `sample_size` proportional to its size, but at least
/// `min(size, 50)` rows so that small clusters are represented (the sample can therefore be
/// slightly larger than `sample_size`). Each sampled row's silhouette is exact, against all
/// rows; the per-cluster means are weighted by cluster size. With `sample_size >= n` this is
/// [`silhouette_exact`].
///
/// Returns NaN when fewer than two clusters are non-empty.
///
/// # Panics
/// If `labels` does not have one entry per row, or a label is `>= k`.
pub(crate) fn silhouette_sampled(
    x: &Matrix,
    labels: &[usize],
    k: usize,
    sample_size: usize,
    seed: u64,
) -> f64 {
    let n = x.n_rows;
    if sample_size >= n {
        return silhouette_exact(x, labels, k);
    }
    let sizes = checked_sizes(x, labels, k);
    if non_empty(&sizes) < 2 {
        return f64::NAN;
    }
    let grouped = Grouped::new(x, labels, &sizes);
    let (rows, sampled) = stratified_sample(&grouped, &sizes, sample_size, seed);
    let per_cluster = silhouette_sums(x, labels, &grouped, &rows);
    let mut total = 0.0;
    for c in 0..k {
        if sampled[c] > 0 {
            total += per_cluster[c] * (sizes[c] as f64 / sampled[c] as f64);
        }
    }
    total / n as f64
}

/// Davies–Bouldin index (lower is better), as `sklearn.metrics.davies_bouldin_score`.
///
/// Returns NaN when fewer than two clusters are non-empty.
///
/// # Panics
/// If `labels` does not have one entry per row, or a label is `>= k`.
pub fn davies_bouldin(x: &Matrix, labels: &[usize], k: usize) -> f64 {
    let sizes = checked_sizes(x, labels, k);
    let present: Vec<usize> = (0..k).filter(|&c| sizes[c] > 0).collect();
    if present.len() < 2 {
        return f64::NAN;
    }
    let d = x.n_cols;
    let centroids = cluster_means(x, labels, &sizes);
    let mut scatter = vec![0.0; k];
    for (i, &c) in labels.iter().enumerate() {
        scatter[c] += sq_dist(x.row(i), &centroids[c * d..(c + 1) * d]).sqrt();
    }
    for c in &present {
        scatter[*c] /= sizes[*c] as f64;
    }
    let centroid = |c: usize| &centroids[c * d..(c + 1) * d];
    // scikit-learn's `np.allclose(..., 0)` guards: absolute tolerance 1e-8.
    let near_zero = |v: f64| v.abs() <= 1e-8;
    let separations: Vec<Vec<f64>> = present
        .iter()
        .map(|&a| {
            present
                .iter()
                .map(|&b| sq_dist(centroid(a), centroid(b)).sqrt())
                .collect()
        })
        .collect();
    if present.iter().all(|&c| near_zero(scatter[c]))
        || separations.iter().flatten().all(|&v| near_zero(v))
    {
        return 0.0;
    }
    let mut total = 0.0;
    for (ia, &a) in present.iter().enumerate() {
        let mut worst: f64 = 0.0;
        for (ib, &b) in present.iter().enumerate() {
            // Coinciding centroids (and the cluster itself) are skipped, as scikit-learn divides
            // by infinity there.
            if ia != ib && separations[ia][ib] != 0.0 {
                worst = worst.max((scatter[a] + scatter[b]) / separations[ia][ib]);
            }
        }
        total += worst;
    }
    total / present.len() as f64
}

/// Calinski–Harabasz index (higher is better), as `sklearn.metrics.calinski_harabasz_score`:
/// between-cluster over within-cluster dispersion, times `(n − k) / (k − 1)`; 1 when the
/// within-cluster dispersion is 0.
///
/// Returns NaN when fewer than two clusters are non-empty.
///
/// # Panics
/// If `labels` does not have one entry per row, or a label is `>= k`.
pub fn calinski_harabasz(x: &Matrix, labels: &[usize], k: usize) -> f64 {
    let sizes = checked_sizes(x, labels, k);
    let n_labels = non_empty(&sizes);
    if n_labels < 2 {
        return f64::NAN;
    }
    let (n, d) = (x.n_rows, x.n_cols);
    let centroids = cluster_means(x, labels, &sizes);
    let mut mean = vec![0.0; d];
    for i in 0..n {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += v;
        }
    }
    for m in mean.iter_mut() {
        *m /= n as f64;
    }
    let mut between = 0.0;
    for c in (0..k).filter(|&c| sizes[c] > 0) {
        between += sizes[c] as f64 * sq_dist(&centroids[c * d..(c + 1) * d], &mean);
    }
    let mut within = 0.0;
    for (i, &c) in labels.iter().enumerate() {
        within += sq_dist(x.row(i), &centroids[c * d..(c + 1) * d]);
    }
    if within == 0.0 {
        return 1.0;
    }
    between * (n - n_labels) as f64 / (within * (n_labels - 1) as f64)
}

fn checked_sizes(x: &Matrix, labels: &[usize], k: usize) -> Vec<usize> {
    assert_eq!(labels.len(), x.n_rows, "expected one cluster label per row");
    cluster_sizes(labels, k)
}

fn non_empty(sizes: &[usize]) -> usize {
    sizes.iter().filter(|&&s| s > 0).count()
}

#[inline]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

/// `k × d` means of the clusters (zeros for an empty one).
fn cluster_means(x: &Matrix, labels: &[usize], sizes: &[usize]) -> Vec<f64> {
    let d = x.n_cols;
    let mut sums = vec![0.0; sizes.len() * d];
    for (i, &c) in labels.iter().enumerate() {
        for (s, v) in sums[c * d..(c + 1) * d].iter_mut().zip(x.row(i)) {
            *s += v;
        }
    }
    for (c, &size) in sizes.iter().enumerate() {
        if size > 0 {
            for s in &mut sums[c * d..(c + 1) * d] {
                *s /= size as f64;
            }
        }
    }
    sums
}

/// The points regrouped by cluster: cluster `c` is `starts[c]..starts[c + 1]` of every column,
/// rows in input order within a cluster.
struct Grouped {
    columns: Vec<Vec<f64>>,
    starts: Vec<usize>,
    /// Input row of each grouped position.
    rows: Vec<usize>,
    /// Cluster of each grouped position.
    labels: Vec<usize>,
}

impl Grouped {
    fn new(x: &Matrix, labels: &[usize], sizes: &[usize]) -> Self {
        let k = sizes.len();
        let mut starts = vec![0; k + 1];
        for c in 0..k {
            starts[c + 1] = starts[c] + sizes[c];
        }
        let mut next = starts.clone();
        let mut rows = vec![0; x.n_rows];
        for (i, &c) in labels.iter().enumerate() {
            rows[next[c]] = i;
            next[c] += 1;
        }
        let columns = (0..x.n_cols)
            .map(|j| rows.iter().map(|&i| x.get(i, j)).collect())
            .collect();
        let labels = rows.iter().map(|&i| labels[i]).collect();
        Self {
            columns,
            starts,
            rows,
            labels,
        }
    }

    fn k(&self) -> usize {
        self.starts.len() - 1
    }

    /// The clusters met in positions `lo..hi`: (cluster, start, end) with positions relative
    /// to `lo`.
    fn segments(&self, lo: usize, hi: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let first = if lo < hi { self.labels[lo] } else { self.k() };
        (first..self.k())
            .take_while(move |&c| self.starts[c] < hi)
            .map(move |c| {
                (
                    c,
                    self.starts[c].max(lo) - lo,
                    self.starts[c + 1].min(hi) - lo,
                )
            })
            .filter(|(_, a, b)| a < b)
    }

    /// Coordinates of grouped position `p`.
    fn point(&self, p: usize, out: &mut [f64]) {
        for (o, column) in out.iter_mut().zip(&self.columns) {
            *o = column[p];
        }
    }

    /// Euclidean distances from `point` to positions `start..start + out.len()`: squared
    /// distances column by column (vectorises whatever the number of features), the root taken
    /// in the pass over the last column.
    #[inline(always)]
    fn distances(&self, point: &[f64], start: usize, out: &mut [f64]) {
        let len = out.len();
        let last = self.columns.len() - 1;
        for (j, (column, &p)) in self.columns.iter().zip(point).enumerate() {
            let column = &column[start..start + len];
            let pairs = out.iter_mut().zip(column);
            match (j == 0, j == last) {
                (true, true) => pairs.for_each(|(o, v)| *o = ((v - p) * (v - p)).sqrt()),
                (true, false) => pairs.for_each(|(o, v)| *o = (v - p) * (v - p)),
                (false, false) => pairs.for_each(|(o, v)| *o += (v - p) * (v - p)),
                (false, true) => pairs.for_each(|(o, v)| *o = (*o + (v - p) * (v - p)).sqrt()),
            }
        }
    }

    /// `n × k` sums of distances from every grouped position to every cluster, without an
    /// n × n matrix: the positions are cut into blocks of `TILE`; each pair of blocks is one
    /// tile, computed once and credited to the rows of both blocks. Tiles run in rounds of a
    /// round-robin schedule, where no two tiles of a round share a block, so a round runs in
    /// parallel and every row receives its contributions in the same order whatever the
    /// thread count.
    fn all_distance_sums(&self) -> Vec<f64> {
        let (n, k) = (self.rows.len(), self.k());
        let n_blocks = n.div_ceil(TILE);
        let block_len = |b: usize| (n - b * TILE).min(TILE);
        let mut blocks: Vec<Vec<f64>> =
            (0..n_blocks).map(|b| vec![0.0; block_len(b) * k]).collect();
        blocks
            .par_iter_mut()
            .enumerate()
            .for_each(|(b, sums)| self.tile_diagonal(b, sums));
        for round in round_robin(n_blocks) {
            let mut work: Vec<(usize, usize, Vec<f64>, Vec<f64>)> = round
                .iter()
                .map(|&(a, b)| {
                    (
                        a,
                        b,
                        std::mem::take(&mut blocks[a]),
                        std::mem::take(&mut blocks[b]),
                    )
                })
                .collect();
            work.par_iter_mut()
                .for_each(|(a, b, sums_a, sums_b)| self.tile_pair(*a, *b, sums_a, sums_b));
            for (a, b, sums_a, sums_b) in work {
                blocks[a] = sums_a;
                blocks[b] = sums_b;
            }
        }
        blocks.concat()
    }

    fn tile_diagonal(&self, block: usize, sums: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above). Same operations in the
                // same order as the portable build (no FMA), so the results are identical.
                unsafe { self.tile_diagonal_avx2(block, sums) };
                return;
            }
        }
        self.tile_diagonal_portable(block, sums);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn tile_diagonal_avx2(&self, block: usize, sums: &mut [f64]) {
        self.tile_diagonal_portable(block, sums);
    }

    /// Distances within one block (each pair seen from both sides, and the zero to itself).
    #[inline(always)]
    fn tile_diagonal_portable(&self, block: usize, sums: &mut [f64]) {
        let k = self.k();
        let lo = block * TILE;
        let len = sums.len() / k;
        let mut point = vec![0.0; self.columns.len()];
        let mut dist = [0.0f64; TILE];
        let segments: Vec<_> = self.segments(lo, lo + len).collect();
        for (p, row_sums) in sums.chunks_exact_mut(k).enumerate() {
            self.point(lo + p, &mut point);
            self.distances(&point, lo, &mut dist[..len]);
            for &(c, a, b) in &segments {
                row_sums[c] += lane_sum(&dist[a..b]);
            }
        }
    }

    fn tile_pair(&self, block_a: usize, block_b: usize, sums_a: &mut [f64], sums_b: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as in `tile_diagonal`.
                unsafe { self.tile_pair_avx2(block_a, block_b, sums_a, sums_b) };
                return;
            }
        }
        self.tile_pair_portable(block_a, block_b, sums_a, sums_b);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn tile_pair_avx2(
        &self,
        block_a: usize,
        block_b: usize,
        sums_a: &mut [f64],
        sums_b: &mut [f64],
    ) {
        self.tile_pair_portable(block_a, block_b, sums_a, sums_b);
    }

    /// Distances between two different blocks, credited to the rows of both.
    #[inline(always)]
    fn tile_pair_portable(
        &self,
        block_a: usize,
        block_b: usize,
        sums_a: &mut [f64],
        sums_b: &mut [f64],
    ) {
        let k = self.k();
        let (lo_a, lo_b) = (block_a * TILE, block_b * TILE);
        let (len_a, len_b) = (sums_a.len() / k, sums_b.len() / k);
        let mut point = vec![0.0; self.columns.len()];
        let mut dist = [0.0f64; TILE];
        let mut column_sums = [0.0f64; TILE];
        let segments_b: Vec<_> = self.segments(lo_b, lo_b + len_b).collect();
        for (c_a, a0, a1) in self.segments(lo_a, lo_a + len_a) {
            column_sums[..len_b].fill(0.0);
            for p in a0..a1 {
                self.point(lo_a + p, &mut point);
                self.distances(&point, lo_b, &mut dist[..len_b]);
                let row_sums = &mut sums_a[p * k..(p + 1) * k];
                for &(c_b, b0, b1) in &segments_b {
                    row_sums[c_b] += lane_sum_and_add(&dist[b0..b1], &mut column_sums[b0..b1]);
                }
            }
            for (q, s) in column_sums[..len_b].iter().enumerate() {
                sums_b[q * k + c_a] += s;
            }
        }
    }

    /// Sum of Euclidean distances from `point` to every member of each cluster, into `sums`.
    fn distance_sums(&self, point: &[f64], sums: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as in `tile_diagonal`.
                unsafe { self.distance_sums_avx2(point, sums) };
                return;
            }
        }
        self.distance_sums_portable(point, sums);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn distance_sums_avx2(&self, point: &[f64], sums: &mut [f64]) {
        self.distance_sums_portable(point, sums);
    }

    #[inline(always)]
    fn distance_sums_portable(&self, point: &[f64], sums: &mut [f64]) {
        let mut dist = [0.0f64; TILE];
        for (c, sum) in sums.iter_mut().enumerate() {
            let (lo, hi) = (self.starts[c], self.starts[c + 1]);
            let mut total = 0.0;
            let mut start = lo;
            while start < hi {
                let len = (hi - start).min(TILE);
                self.distances(point, start, &mut dist[..len]);
                total += lane_sum(&dist[..len]);
                start += len;
            }
            *sum = total;
        }
    }
}

/// Sum with `LANES` independent partial sums: lets the compiler vectorise, and fixes the order
/// of the additions.
#[inline(always)]
fn lane_sum(values: &[f64]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    for (lane, v) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += v;
    }
    lanes.iter().sum()
}

/// `lane_sum(values)`, while also adding `values` into `totals` element by element (one pass).
#[inline(always)]
fn lane_sum_and_add(values: &[f64], totals: &mut [f64]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    let mut total_chunks = totals.chunks_exact_mut(LANES);
    for (chunk, total_chunk) in (&mut chunks).zip(&mut total_chunks) {
        for ((lane, total), v) in lanes.iter_mut().zip(total_chunk.iter_mut()).zip(chunk) {
            *lane += v;
            *total += v;
        }
    }
    let remainder = total_chunks.into_remainder();
    for ((lane, total), v) in lanes
        .iter_mut()
        .zip(remainder.iter_mut())
        .zip(chunks.remainder())
    {
        *lane += v;
        *total += v;
    }
    lanes.iter().sum()
}

/// Round-robin ("circle method") schedule of all pairs of `n` blocks: each round lists pairs
/// with no block twice.
fn round_robin(n: usize) -> Vec<Vec<(usize, usize)>> {
    // With an odd count, a phantom block sits out one round each.
    let teams = n + n % 2;
    let mut rounds = Vec::with_capacity(teams.saturating_sub(1));
    for round in 0..teams.saturating_sub(1) {
        let mut pairs = Vec::with_capacity(teams / 2);
        let mut push = |a: usize, b: usize| {
            if a < n && b < n {
                pairs.push((a.min(b), a.max(b)));
            }
        };
        push(teams - 1, round);
        for i in 1..teams / 2 {
            push(
                (round + i) % (teams - 1),
                (round + teams - 1 - i) % (teams - 1),
            );
        }
        rounds.push(pairs);
    }
    rounds
}

/// Silhouette of one row from its distance sums to every cluster.
fn silhouette_of(sums: &[f64], own: usize, sizes: &[usize]) -> f64 {
    if sizes[own] <= 1 {
        return 0.0;
    }
    let within = sums[own] / (sizes[own] - 1) as f64;
    let nearest = (0..sizes.len())
        .filter(|&c| c != own && sizes[c] > 0)
        .map(|c| sums[c] / sizes[c] as f64)
        .fold(f64::INFINITY, f64::min);
    let scale = within.max(nearest);
    if scale == 0.0 {
        // Every point coincides: scikit-learn's 0/0 becomes 0.
        return 0.0;
    }
    (nearest - within) / scale
}

/// Per-cluster sums of the silhouettes of `rows`, in fixed blocks combined in block order.
fn silhouette_sums(x: &Matrix, labels: &[usize], grouped: &Grouped, rows: &[usize]) -> Vec<f64> {
    let k = grouped.starts.len() - 1;
    let sizes: Vec<usize> = (0..k)
        .map(|c| grouped.starts[c + 1] - grouped.starts[c])
        .collect();
    let blocks: Vec<Vec<f64>> = rows
        .par_chunks(BLOCK_ROWS)
        .map(|block| {
            let mut sums = vec![0.0; k];
            let mut per_cluster = vec![0.0; k];
            for &i in block {
                grouped.distance_sums(x.row(i), &mut sums);
                per_cluster[labels[i]] += silhouette_of(&sums, labels[i], &sizes);
            }
            per_cluster
        })
        .collect();
    let mut total = vec![0.0; k];
    for block in &blocks {
        for (t, b) in total.iter_mut().zip(block) {
            *t += b;
        }
    }
    total
}

/// Seeded sample stratified by cluster: returns the sampled rows (ascending within a cluster,
/// clusters in order) and how many were drawn from each cluster.
fn stratified_sample(
    grouped: &Grouped,
    sizes: &[usize],
    sample_size: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let n: usize = sizes.iter().sum();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(sample_size + sizes.len() * MIN_SAMPLE_PER_CLUSTER);
    let mut counts = vec![0; sizes.len()];
    for (c, &size) in sizes.iter().enumerate() {
        if size == 0 {
            continue;
        }
        let share = (sample_size as f64 * size as f64 / n as f64).round() as usize;
        let take = share.max(size.min(MIN_SAMPLE_PER_CLUSTER)).min(size);
        let mut members = grouped.rows[grouped.starts[c]..grouped.starts[c + 1]].to_vec();
        // Partial Fisher–Yates: the first `take` members become a uniform sample.
        for t in 0..take {
            let j = rng.gen_range(t..size);
            members.swap(t, j);
        }
        let mut chosen = members[..take].to_vec();
        chosen.sort_unstable();
        rows.extend_from_slice(&chosen);
        counts[c] = take;
    }
    (rows, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    fn small_2d() -> (Matrix, Vec<usize>) {
        let x = Matrix::new(
            7,
            2,
            vec![
                0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 5.0, 5.0, 5.0, 6.0, 6.0, 5.0, 10.0, 0.0,
            ],
        );
        (x, vec![0, 0, 0, 1, 1, 1, 2])
    }

    /// Points of `sizes.len()` clusters around well-spread centres, noisy enough to overlap a
    /// little; labels by construction. Rows of different clusters are interleaved.
    fn clustered(sizes: &[usize], seed: u64) -> (Matrix, Vec<usize>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut remaining = sizes.to_vec();
        let mut data = Vec::new();
        let mut labels = Vec::new();
        while remaining.iter().any(|&r| r > 0) {
            let c = rng.gen_range(0..sizes.len());
            if remaining[c] == 0 {
                continue;
            }
            remaining[c] -= 1;
            let centre = [c as f64 * 3.0, (c % 2) as f64 * 4.0, (c * c) as f64 * 0.5];
            for v in centre {
                data.push(v + rng.gen::<f64>() * 2.5);
            }
            labels.push(c);
        }
        (Matrix::new(labels.len(), 3, data), labels)
    }

    /// The textbook O(n²) silhouette, as a reference.
    fn naive_silhouette(x: &Matrix, labels: &[usize], k: usize) -> f64 {
        let sizes = cluster_sizes(labels, k);
        let mut total = 0.0;
        for i in 0..x.n_rows {
            let mut sums = vec![0.0; k];
            for j in 0..x.n_rows {
                sums[labels[j]] += sq_dist(x.row(i), x.row(j)).sqrt();
            }
            total += silhouette_of(&sums, labels[i], &sizes);
        }
        total / x.n_rows as f64
    }

    #[test]
    fn small_case_matches_scikit_learn() {
        // sklearn 1.9.1 silhouette_score, davies_bouldin_score, calinski_harabasz_score.
        let (x, labels) = small_2d();
        assert!(close(silhouette_exact(&x, &labels, 3), 0.7163280643624282));
        assert!(close(davies_bouldin(&x, &labels, 3), 0.15409014453976086));
        assert!(close(calinski_harabasz(&x, &labels, 3), 94.4285714285714));
    }

    #[test]
    fn three_dimensional_case_matches_scikit_learn() {
        let x = Matrix::new(
            9,
            3,
            vec![
                0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 2.0, 1.0, 1.0, 0.0, 1.0, 3.0, 8.0, 8.0, 8.0, 9.0,
                7.0, 8.0, 4.0, 4.0, 4.0, 4.0, 5.0, 4.0, 5.0, 4.0, 5.0,
            ],
        );
        let labels = [0, 0, 0, 0, 1, 1, 2, 2, 2];
        assert!(close(silhouette_exact(&x, &labels, 3), 0.6788343990373339));
        assert!(close(davies_bouldin(&x, &labels, 3), 0.3491322947061743));
        assert!(close(calinski_harabasz(&x, &labels, 3), 45.48484848484849));
    }

    #[test]
    fn line_case_matches_hand_calculation() {
        // Points 0, 1 | 3. s = (2/3, 1/2, 0 for the singleton) → 7/18. Centroids 0.5 and 3,
        // scatters 0.5 and 0: DB = 0.5 / 2.5. CH = (25/6 between) / (1/2 within) · (3−2)/(2−1).
        let x = Matrix::new(3, 1, vec![0.0, 1.0, 3.0]);
        let labels = [0, 0, 1];
        assert!(close(silhouette_exact(&x, &labels, 2), 7.0 / 18.0));
        assert!(close(davies_bouldin(&x, &labels, 2), 0.2));
        assert!(close(calinski_harabasz(&x, &labels, 2), 25.0 / 3.0));
    }

    #[test]
    fn exact_silhouette_matches_the_naive_one_across_many_tiles() {
        // 1,100 rows: five blocks (the last partial), clusters straddling block boundaries,
        // one singleton cluster.
        let (x, labels) = clustered(&[500, 333, 200, 66, 1], 1);
        let (fast, naive) = (
            silhouette_exact(&x, &labels, 5),
            naive_silhouette(&x, &labels, 5),
        );
        assert!((fast - naive).abs() < 1e-12, "{fast} vs {naive}");
    }

    #[test]
    fn empty_clusters_are_ignored() {
        let (x, labels) = small_2d();
        let spread: Vec<usize> = labels.iter().map(|&l| [0, 2, 4][l]).collect();
        assert_eq!(
            silhouette_exact(&x, &spread, 5),
            silhouette_exact(&x, &labels, 3)
        );
        assert_eq!(
            davies_bouldin(&x, &spread, 5),
            davies_bouldin(&x, &labels, 3)
        );
        assert_eq!(
            calinski_harabasz(&x, &spread, 5),
            calinski_harabasz(&x, &labels, 3)
        );
        assert_eq!(
            silhouette_sampled(&x, &spread, 5, 3, 1),
            silhouette_sampled(&x, &labels, 3, 3, 1)
        );
    }

    #[test]
    fn one_non_empty_cluster_gives_nan() {
        let (x, _) = small_2d();
        let labels = vec![1; 7];
        assert!(silhouette_exact(&x, &labels, 2).is_nan());
        assert!(silhouette_sampled(&x, &labels, 2, 3, 1).is_nan());
        assert!(davies_bouldin(&x, &labels, 2).is_nan());
        assert!(calinski_harabasz(&x, &labels, 2).is_nan());
    }

    #[test]
    fn every_point_alone_gives_the_formula_values() {
        let (x, _) = small_2d();
        let labels: Vec<usize> = (0..7).collect();
        assert_eq!(silhouette_exact(&x, &labels, 7), 0.0);
        assert_eq!(davies_bouldin(&x, &labels, 7), 0.0);
        assert_eq!(calinski_harabasz(&x, &labels, 7), 1.0);
    }

    #[test]
    fn coinciding_points_give_zero_silhouette_and_db() {
        let x = Matrix::new(4, 2, vec![1.0; 8]);
        let labels = [0, 0, 1, 1];
        assert_eq!(silhouette_exact(&x, &labels, 2), 0.0);
        assert_eq!(davies_bouldin(&x, &labels, 2), 0.0);
        assert_eq!(calinski_harabasz(&x, &labels, 2), 1.0);
    }

    #[test]
    fn sampled_silhouette_estimates_the_exact_one() {
        // 20,000 rows, five clusters of very different sizes, one tiny.
        let (x, labels) = clustered(&[11_000, 6_000, 2_500, 480, 20], 2);
        let exact = silhouette_exact(&x, &labels, 5);
        for seed in 0..3 {
            let sampled = silhouette_sampled(&x, &labels, 5, 2_000, seed);
            assert!(
                (sampled - exact).abs() < 0.01,
                "seed {seed}: {sampled} vs {exact}"
            );
        }
    }

    #[test]
    fn sampled_silhouette_is_exact_when_the_sample_covers_everything() {
        let (x, labels) = clustered(&[300, 200], 3);
        assert_eq!(
            silhouette_sampled(&x, &labels, 2, 500, 9),
            silhouette_exact(&x, &labels, 2)
        );
    }

    #[test]
    fn sampled_silhouette_depends_only_on_the_seed() {
        let (x, labels) = clustered(&[3_000, 1_000, 40], 4);
        let a = silhouette_sampled(&x, &labels, 3, 500, 11);
        assert_eq!(a, silhouette_sampled(&x, &labels, 3, 500, 11));
        assert_ne!(a, silhouette_sampled(&x, &labels, 3, 500, 12));
    }

    #[test]
    fn small_clusters_are_sampled_at_least_to_the_floor() {
        let (x, labels) = clustered(&[9_000, 900, 80, 20], 5);
        let sizes = cluster_sizes(&labels, 4);
        let grouped = Grouped::new(&x, &labels, &sizes);
        let (rows, counts) = stratified_sample(&grouped, &sizes, 1_000, 7);
        // Proportional shares 900, 90, 8 → 50 (the floor), 2 → all 20.
        assert_eq!(counts, vec![900, 90, 50, 20]);
        assert_eq!(rows.len(), 1_060);
        let mut seen = vec![0; 4];
        for &i in &rows {
            seen[labels[i]] += 1;
        }
        assert_eq!(seen, counts);
        let mut unique = rows.clone();
        unique.dedup();
        assert_eq!(unique.len(), rows.len(), "a row was sampled twice");
    }

    #[test]
    fn silhouettes_do_not_depend_on_the_thread_count() {
        let (x, labels) = clustered(&[2_000, 1_500, 700, 3], 6);
        let with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    silhouette_exact(&x, &labels, 4),
                    silhouette_sampled(&x, &labels, 4, 800, 5),
                )
            })
        };
        let one = with(1);
        assert_eq!(one, with(2));
        assert_eq!(one, with(3));
    }

    #[test]
    fn avx2_and_portable_kernels_are_identical() {
        let (x, labels) = clustered(&[400, 300, 100], 7);
        let grouped = Grouped::new(&x, &labels, &cluster_sizes(&labels, 3));
        let k = 3;
        let (mut a0, mut a1) = (vec![0.0; TILE * k], vec![0.0; TILE * k]);
        let (mut b0, mut b1) = (vec![0.0; TILE * k], vec![0.0; TILE * k]);
        grouped.tile_pair(0, 2, &mut a0, &mut a1);
        grouped.tile_pair_portable(0, 2, &mut b0, &mut b1);
        assert_eq!((a0, a1), (b0, b1));
        let (mut a, mut b) = (vec![0.0; TILE * k], vec![0.0; TILE * k]);
        grouped.tile_diagonal(1, &mut a);
        grouped.tile_diagonal_portable(1, &mut b);
        assert_eq!(a, b);
        let (mut a, mut b) = (vec![0.0; k], vec![0.0; k]);
        grouped.distance_sums(x.row(5), &mut a);
        grouped.distance_sums_portable(x.row(5), &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn round_robin_meets_every_pair_once_and_no_block_twice_a_round() {
        for n in 0..12 {
            let mut met = vec![vec![0; n]; n];
            for round in round_robin(n) {
                let mut busy = vec![false; n];
                for (a, b) in round {
                    assert!(a < b && !busy[a] && !busy[b], "n = {n}");
                    busy[a] = true;
                    busy[b] = true;
                    met[a][b] += 1;
                }
            }
            for (a, row) in met.iter().enumerate() {
                for (b, &count) in row.iter().enumerate().skip(a + 1) {
                    assert_eq!(count, 1, "n = {n}, pair ({a}, {b})");
                }
            }
        }
    }

    #[test]
    fn cluster_sizes_counts_labels() {
        assert_eq!(cluster_sizes(&[2, 0, 2, 2], 4), vec![1, 0, 3, 0]);
    }

    #[test]
    #[should_panic(expected = "cluster label 3 is out of range 0..3")]
    fn out_of_range_label_panics() {
        cluster_sizes(&[0, 3], 3);
    }

    #[test]
    #[should_panic(expected = "one cluster label per row")]
    fn label_count_mismatch_panics() {
        let (x, _) = small_2d();
        silhouette_exact(&x, &[0, 1], 2);
    }
}
