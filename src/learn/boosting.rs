//! XGBoost-style gradient boosting of regression trees under squared loss.
//!
//! Each round takes the gradients `g = prediction − y` (hessian 1 per row), draws a row
//! subsample, and grows a depth-wise tree by histogram split finding on features binned once
//! for all rounds. A split's gain is `½·[G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)]`, both children
//! need a hessian sum of at least `min_child_weight`, and a leaf's weight is `−G/(H+λ)` times the
//! learning rate (stored in the leaf, so the model is `base_score + Σ trees`).
//!
//! Node `cover` is the hessian sum of the round's subsample that reached the node, which is its
//! row count under squared loss. An internal node's `value` is the cover-weighted mean of its
//! children's values (so of the leaves below it), as for the other trees; only leaf values enter
//! predictions.
//!
//! Within a round the histograms are built in parallel over features; a pair of children builds
//! the smaller child's histogram and takes the larger one's as parent minus sibling. Every sum
//! runs in a fixed order, so the model is identical whatever the number of threads.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cart::{stable_partition, BinnedMatrix, MAX_BINS};
use super::matrix::Matrix;
use super::tree::{Node, Tree, LEAF};

/// Hyper-parameters of gradient boosting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoostingParams {
    /// Number of trees.
    pub n_rounds: usize,
    /// Shrinkage applied to every leaf weight.
    pub learning_rate: f64,
    /// Depth of the deepest leaf (root = 0).
    pub max_depth: usize,
    /// L2 penalty on leaf weights.
    pub lambda: f64,
    /// Smallest hessian sum (row count under squared loss) allowed in a child.
    pub min_child_weight: f64,
    /// Fraction of rows drawn (independently per row) for each round; `>= 1` uses every row.
    pub subsample: f64,
    /// Bins per feature, clamped to `2..=256`.
    pub max_bins: usize,
}

impl Default for BoostingParams {
    /// The spec's default grid point at depth 6.
    fn default() -> Self {
        Self {
            n_rounds: 400,
            learning_rate: 0.05,
            max_depth: 6,
            lambda: 1.0,
            min_child_weight: 1.0,
            subsample: 0.8,
            max_bins: MAX_BINS,
        }
    }
}

/// A fitted boosted ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Boosting {
    /// Starting prediction: the training mean.
    pub base_score: f64,
    /// One tree per round; leaf values already include the learning rate.
    pub trees: Vec<Tree>,
}

impl Boosting {
    /// `base_score` plus every tree's leaf value for `row`.
    #[cfg(test)]
    pub(crate) fn predict_row(&self, row: &[f64]) -> f64 {
        self.base_score + crate::learn::tree::sum_trees_row(&self.trees, row)
    }

    /// Predictions for every row of `x` (tree by tree over blocks of rows; same numbers as
    /// `predict_row`).
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        crate::learn::tree::sum_trees(&self.trees, x)
            .into_iter()
            .map(|sum| self.base_score + sum)
            .collect()
    }
}

/// Fits gradient boosting on all rows of `x`. Panics if `y.len() != x.n_rows`.
pub fn fit_boosting(x: &Matrix, y: &[f64], params: &BoostingParams, seed: u64) -> Boosting {
    fit(x, y, None, params, seed, None)
}

/// Fits gradient boosting under the weighted squared loss `Σ w_i (y_i − f(x_i))² / 2`: row `i`'s
/// gradient is `w_i (f − y_i)` and its hessian `w_i`, so covers, `min_child_weight` and `λ` are
/// in units of weight (give weights of mean 1 to keep them in rows), and the base score is the
/// weighted mean. Weights of 1 give exactly [`fit_boosting`]'s model. Panics if a length
/// differs from `x.n_rows` or a weight is negative or not finite.
pub(crate) fn fit_boosting_weighted(
    x: &Matrix,
    y: &[f64],
    weights: &[f64],
    params: &BoostingParams,
    seed: u64,
) -> Boosting {
    assert_eq!(x.n_rows, weights.len(), "one weight per row is required");
    assert!(
        weights.iter().all(|w| w.is_finite() && *w >= 0.0),
        "weights must be finite and non-negative"
    );
    fit(x, y, Some(weights), params, seed, None)
}

/// Like [`fit_boosting`], also returning the mean squared error on all training rows after each
/// round (one entry per tree).
#[cfg(test)]
pub(crate) fn fit_boosting_with_history(
    x: &Matrix,
    y: &[f64],
    params: &BoostingParams,
    seed: u64,
) -> (Boosting, Vec<f64>) {
    let mut history = Vec::with_capacity(params.n_rounds);
    let model = fit(x, y, None, params, seed, Some(&mut history));
    (model, history)
}

/// Fits the ensemble; records the training loss after each round into `history` when given.
fn fit(
    x: &Matrix,
    y: &[f64],
    weights: Option<&[f64]>,
    params: &BoostingParams,
    seed: u64,
    history: Option<&mut Vec<f64>>,
) -> Boosting {
    assert_eq!(x.n_rows, y.len(), "one target per row is required");
    let binned = BinnedMatrix::new(x, params.max_bins);
    // Inside a parallel task (cross-validation fits many models at once) the other threads are
    // busy already: splitting a level's features across them would only add scheduling. Called
    // from outside the thread pool, the rounds run on one of its threads, so that each level's
    // fork-join stays inside the pool instead of waking the calling thread every time.
    let parallel = rayon::current_thread_index().is_none();
    if parallel {
        rayon::scope(|_| rounds(&binned, y, weights, params, seed, true, history))
    } else {
        rounds(&binned, y, weights, params, seed, false, history)
    }
}

/// The boosting rounds of [`fit`]; `parallel` splits each level's features across threads.
fn rounds(
    binned: &BinnedMatrix,
    y: &[f64],
    weights: Option<&[f64]>,
    params: &BoostingParams,
    seed: u64,
    parallel: bool,
    mut history: Option<&mut Vec<f64>>,
) -> Boosting {
    let n_rows = y.len();
    let base_score = match weights {
        _ if n_rows == 0 => 0.0,
        None => y.iter().sum::<f64>() / n_rows as f64,
        Some(w) => {
            let total: f64 = w.iter().sum();
            if total > 0.0 {
                y.iter().zip(w).map(|(y, w)| w * y).sum::<f64>() / total
            } else {
                0.0
            }
        }
    };
    let mut predictions = vec![base_score; n_rows];
    let mut gradients = vec![0.0; n_rows];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut grower = Grower::new(binned, params, parallel, weights);
    let mut trees = Vec::with_capacity(params.n_rounds);
    for _ in 0..params.n_rounds {
        for ((gradient, prediction), target) in gradients.iter_mut().zip(&predictions).zip(y) {
            *gradient = prediction - target;
        }
        if let Some(w) = weights {
            for (gradient, w) in gradients.iter_mut().zip(w) {
                *gradient *= w;
            }
        }
        grower.rows.clear();
        grower.left_out.clear();
        if params.subsample >= 1.0 {
            grower.rows.extend(0..n_rows as u32);
        } else {
            for row in 0..n_rows as u32 {
                if rng.gen::<f64>() < params.subsample {
                    grower.rows.push(row);
                } else {
                    grower.left_out.push(row);
                }
            }
        }
        let (tree, split_bins) = grower.grow(&gradients);
        grower.add_tree_output(&tree, &split_bins, &mut predictions);
        if let Some(history) = history.as_deref_mut() {
            history.push(mean_squared_error(&predictions, y));
        }
        trees.push(tree);
    }
    Boosting { base_score, trees }
}

/// Mean squared error, summed in fixed chunks in order so that it does not depend on the
/// number of threads.
fn mean_squared_error(predictions: &[f64], y: &[f64]) -> f64 {
    const CHUNK: usize = 8192;
    if predictions.is_empty() {
        return 0.0;
    }
    let chunk_sums: Vec<f64> = predictions
        .par_chunks(CHUNK)
        .zip(y.par_chunks(CHUNK))
        .map(|(predicted, actual)| {
            predicted
                .iter()
                .zip(actual)
                .map(|(p, a)| (p - a) * (p - a))
                .sum::<f64>()
        })
        .collect();
    chunk_sums.iter().sum::<f64>() / predictions.len() as f64
}

/// Each row's gradient and hessian (`None`: 1 per row).
#[derive(Clone, Copy)]
struct RowStats<'a> {
    gradients: &'a [f64],
    hessians: Option<&'a [f64]>,
}

/// Gradient and hessian sums of one bin.
#[derive(Clone, Copy, Default)]
struct GradBin {
    grad: f64,
    hess: f64,
}

/// One feature's histograms for every open node of the previous and the current level.
///
/// Invariant: outside the bins listed per slot in `previous_bins` / `current_bins`, every
/// entry is zero, so a histogram is cleared, derived and scanned over its listed bins only
/// (few, for the small nodes of the deeper levels) instead of all 256.
struct FeatureHistograms {
    n_bins: usize,
    previous: Vec<GradBin>,
    current: Vec<GradBin>,
    previous_bins: Vec<Vec<u8>>,
    current_bins: Vec<Vec<u8>>,
    /// Each open node's best split on this feature, from the last [`Self::split_level`].
    best: Vec<Option<Split>>,
}

impl FeatureHistograms {
    fn new(n_bins: usize) -> Self {
        Self {
            n_bins,
            previous: Vec::new(),
            current: Vec::new(),
            previous_bins: Vec::new(),
            current_bins: Vec::new(),
            best: Vec::new(),
        }
    }

    /// Builds or derives this feature's histogram of every open node of a level and leaves
    /// each node's best split on the feature in `self.best`.
    fn split_level(
        &mut self,
        column: &[u8],
        rows: &[u32],
        stats: RowStats<'_>,
        level: &[OpenNode],
        feature: usize,
        params: &BoostingParams,
    ) {
        let n_bins = self.n_bins;
        let Self {
            previous,
            current,
            previous_bins,
            current_bins,
            best,
            ..
        } = self;
        // `current` still holds the histograms of two levels up: clear what they touched.
        for (slot, bins) in current_bins.iter().enumerate() {
            for &bin in bins {
                current[slot * n_bins + bin as usize] = GradBin::default();
            }
        }
        // Only ever grown: after the clearing above every entry is zero, and growing back
        // from a truncation would zero the whole buffer again each round.
        if current.len() < level.len() * n_bins {
            current.resize(level.len() * n_bins, GradBin::default());
        }
        current_bins.resize_with(level.len(), Vec::new);
        for (slot, open) in level.iter().enumerate() {
            if let HistogramSource::Build = open.source {
                let histogram = &mut current[slot * n_bins..(slot + 1) * n_bins];
                let mut bitmap = [0u64; MAX_BINS / 64];
                let gradients = stats.gradients;
                match stats.hessians {
                    None => {
                        for &row in &rows[open.start..open.end] {
                            let bin = column[row as usize];
                            let entry = &mut histogram[bin as usize];
                            entry.grad += gradients[row as usize];
                            entry.hess += 1.0;
                            bitmap[(bin >> 6) as usize] |= 1 << (bin & 63);
                        }
                    }
                    Some(hessians) => {
                        for &row in &rows[open.start..open.end] {
                            let bin = column[row as usize];
                            let entry = &mut histogram[bin as usize];
                            entry.grad += gradients[row as usize];
                            entry.hess += hessians[row as usize];
                            bitmap[(bin >> 6) as usize] |= 1 << (bin & 63);
                        }
                    }
                }
                let listed = &mut current_bins[slot];
                listed.clear();
                for (word_index, &word) in bitmap.iter().enumerate() {
                    let mut bits = word;
                    while bits != 0 {
                        listed.push((word_index * 64 + bits.trailing_zeros() as usize) as u8);
                        bits &= bits - 1;
                    }
                }
            }
        }
        for (slot, open) in level.iter().enumerate() {
            if let HistogramSource::Subtract {
                parent_slot,
                sibling_slot,
            } = open.source
            {
                // The parent's bins cover both children's; the sibling was built above.
                let parent_bins = &previous_bins[parent_slot];
                for &bin in parent_bins {
                    let bin = bin as usize;
                    let parent = previous[parent_slot * n_bins + bin];
                    let sibling = current[sibling_slot * n_bins + bin];
                    current[slot * n_bins + bin] = GradBin {
                        grad: parent.grad - sibling.grad,
                        hess: parent.hess - sibling.hess,
                    };
                }
                current_bins[slot].clear();
                current_bins[slot].extend_from_slice(parent_bins);
            }
        }
        best.clear();
        best.extend(level.iter().enumerate().map(|(slot, open)| {
            best_split(
                &current[slot * n_bins..(slot + 1) * n_bins],
                &current_bins[slot],
                open,
                feature,
                params,
            )
        }));
        std::mem::swap(previous, current);
        std::mem::swap(previous_bins, current_bins);
    }
}

/// How an open node gets its histogram.
#[derive(Clone, Copy)]
enum HistogramSource {
    /// Accumulate its rows.
    Build,
    /// Parent (previous level's slot) minus sibling (this level's slot, always built).
    Subtract {
        parent_slot: usize,
        sibling_slot: usize,
    },
}

/// A node of the current level that may still split; its rows are `rows[start..end]`.
struct OpenNode {
    node: usize,
    start: usize,
    end: usize,
    grad: f64,
    hess: f64,
    source: HistogramSource,
}

/// The best split of an open node on one feature.
#[derive(Clone, Copy)]
struct Split {
    feature: usize,
    left_bin: usize,
    gain: f64,
    left_grad: f64,
    left_hess: f64,
}

/// Grows the trees of successive rounds, reusing its buffers.
struct Grower<'a> {
    binned: &'a BinnedMatrix,
    params: &'a BoostingParams,
    /// Per-row hessians (the weights; `None`: 1 per row).
    hessians: Option<&'a [f64]>,
    /// This round's subsample (ascending), partitioned in place as nodes split.
    rows: Vec<u32>,
    /// This round's rows outside the subsample (ascending).
    left_out: Vec<u32>,
    /// Each final leaf of the current tree with its range in `rows`.
    leaf_ranges: Vec<(usize, usize, usize)>,
    scratch: Vec<u32>,
    histograms: Vec<FeatureHistograms>,
    /// Split each level's features across threads.
    parallel: bool,
}

impl<'a> Grower<'a> {
    fn new(
        binned: &'a BinnedMatrix,
        params: &'a BoostingParams,
        parallel: bool,
        hessians: Option<&'a [f64]>,
    ) -> Self {
        let histograms = (0..binned.n_cols)
            .map(|f| FeatureHistograms::new(binned.n_bins(f)))
            .collect();
        Self {
            binned,
            params,
            hessians,
            rows: Vec::new(),
            left_out: Vec::new(),
            leaf_ranges: Vec::new(),
            scratch: Vec::new(),
            histograms,
            parallel,
        }
    }

    fn leaf_weight(&self, grad: f64, hess: f64) -> f64 {
        let denominator = hess + self.params.lambda;
        if denominator > 0.0 {
            -grad / denominator * self.params.learning_rate
        } else {
            0.0
        }
    }

    fn leaf(&self, grad: f64, hess: f64) -> Node {
        Node {
            feature: 0,
            threshold: 0.0,
            left: LEAF,
            right: LEAF,
            value: self.leaf_weight(grad, hess),
            cover: hess,
            gain: 0.0,
        }
    }

    fn can_split(&self, depth: usize, n_rows: usize, hess: f64) -> bool {
        depth < self.params.max_depth && n_rows >= 2 && hess >= 2.0 * self.params.min_child_weight
    }

    /// Grows one tree on `self.rows` level by level; also returns each internal node's split
    /// bin, used to route training rows by code.
    fn grow(&mut self, gradients: &[f64]) -> (Tree, Vec<u8>) {
        let n_rows = self.rows.len();
        let root_grad: f64 = self.rows.iter().map(|&row| gradients[row as usize]).sum();
        let root_hess = match self.hessians {
            None => n_rows as f64,
            Some(h) => self.rows.iter().map(|&row| h[row as usize]).sum(),
        };
        let mut nodes = vec![self.leaf(root_grad, root_hess)];
        let mut split_bins = vec![0u8];
        let mut level = Vec::new();
        self.leaf_ranges.clear();
        if self.can_split(0, n_rows, root_hess) {
            level.push(OpenNode {
                node: 0,
                start: 0,
                end: n_rows,
                grad: root_grad,
                hess: root_hess,
                source: HistogramSource::Build,
            });
        } else {
            self.leaf_ranges.push((0, 0, n_rows));
        }
        let mut depth = 0;
        while !level.is_empty() {
            let best = self.find_splits(gradients, &level);
            let mut next = Vec::new();
            for (slot, (open, split)) in level.iter().zip(best).enumerate() {
                let Some(split) = split.filter(|split| split.gain > 0.0) else {
                    self.leaf_ranges.push((open.node, open.start, open.end));
                    continue;
                };
                let middle = open.start + self.partition(open, &split);
                let (right_grad, right_hess) =
                    (open.grad - split.left_grad, open.hess - split.left_hess);
                let left = nodes.len();
                nodes.push(self.leaf(split.left_grad, split.left_hess));
                nodes.push(self.leaf(right_grad, right_hess));
                split_bins.extend([0, 0]);
                let parent = &mut nodes[open.node];
                parent.feature = split.feature as u32;
                // The next bin globally, not the next one occupied in this node: rows outside the
                // subsample are routed by code too, and must go where the raw threshold sends them.
                parent.threshold =
                    self.binned
                        .threshold(split.feature, split.left_bin, split.left_bin + 1);
                parent.left = left as u32;
                parent.right = left as u32 + 1;
                parent.gain = split.gain;
                split_bins[open.node] = split.left_bin as u8;

                let left_child = OpenNode {
                    node: left,
                    start: open.start,
                    end: middle,
                    grad: split.left_grad,
                    hess: split.left_hess,
                    source: HistogramSource::Build,
                };
                let right_child = OpenNode {
                    node: left + 1,
                    start: middle,
                    end: open.end,
                    grad: right_grad,
                    hess: right_hess,
                    source: HistogramSource::Build,
                };
                let left_open = self.can_split(depth + 1, middle - open.start, split.left_hess);
                let right_open = self.can_split(depth + 1, open.end - middle, right_hess);
                match (left_open, right_open) {
                    (true, true) => {
                        let (small, mut large) = if middle - open.start <= open.end - middle {
                            (left_child, right_child)
                        } else {
                            (right_child, left_child)
                        };
                        large.source = HistogramSource::Subtract {
                            parent_slot: slot,
                            sibling_slot: next.len(),
                        };
                        next.push(small);
                        next.push(large);
                    }
                    (true, false) => {
                        self.leaf_ranges.push((
                            right_child.node,
                            right_child.start,
                            right_child.end,
                        ));
                        next.push(left_child);
                    }
                    (false, true) => {
                        self.leaf_ranges
                            .push((left_child.node, left_child.start, left_child.end));
                        next.push(right_child);
                    }
                    (false, false) => {
                        self.leaf_ranges
                            .push((left_child.node, left_child.start, left_child.end));
                        self.leaf_ranges.push((
                            right_child.node,
                            right_child.start,
                            right_child.end,
                        ));
                    }
                }
            }
            level = next;
            depth += 1;
        }
        // Children always come after their parent, so one backward pass fills internal values.
        for index in (0..nodes.len()).rev() {
            let node = &nodes[index];
            if !node.is_leaf() && node.cover > 0.0 {
                let (left, right) = (&nodes[node.left as usize], &nodes[node.right as usize]);
                let value = (left.cover * left.value + right.cover * right.value) / node.cover;
                nodes[index].value = value;
            }
        }
        (Tree { nodes }, split_bins)
    }

    /// The best split of every open node (over all features; ties go to the lower feature).
    fn find_splits(&mut self, gradients: &[f64], level: &[OpenNode]) -> Vec<Option<Split>> {
        let binned = self.binned;
        let params = self.params;
        let rows = &self.rows;
        let hessians = self.hessians;
        let split_feature = |(feature, histograms): (usize, &mut FeatureHistograms)| {
            histograms.split_level(
                binned.column(feature),
                rows,
                RowStats {
                    gradients,
                    hessians,
                },
                level,
                feature,
                params,
            )
        };
        if self.parallel {
            self.histograms
                .par_iter_mut()
                .enumerate()
                .for_each(split_feature);
        } else {
            self.histograms
                .iter_mut()
                .enumerate()
                .for_each(split_feature);
        }
        let per_feature = &self.histograms;
        (0..level.len())
            .map(|slot| {
                per_feature
                    .iter()
                    .filter_map(|histograms| histograms.best[slot])
                    .fold(None, |best: Option<Split>, split| match best {
                        Some(current) if current.gain >= split.gain => Some(current),
                        _ => Some(split),
                    })
            })
            .collect()
    }

    /// Adds the new tree's output to every training prediction: a subsampled row's leaf is known
    /// from the partition; a left-out row is routed by bin code, which the thresholds reproduce.
    fn add_tree_output(&self, tree: &Tree, split_bins: &[u8], predictions: &mut [f64]) {
        for &(node, start, end) in &self.leaf_ranges {
            let value = tree.nodes[node].value;
            for &row in &self.rows[start..end] {
                predictions[row as usize] += value;
            }
        }
        let leaf_of = |row: usize| {
            let mut index = 0;
            while !tree.nodes[index].is_leaf() {
                let node = &tree.nodes[index];
                index = if self.binned.code(node.feature as usize, row) <= split_bins[index] {
                    node.left as usize
                } else {
                    node.right as usize
                };
            }
            index
        };
        // Routing is per row, so splitting the work across threads changes no result.
        const PARALLEL_FROM: usize = 16_384;
        if self.left_out.len() < PARALLEL_FROM {
            for &row in &self.left_out {
                predictions[row as usize] += tree.nodes[leaf_of(row as usize)].value;
            }
        } else {
            let leaves: Vec<usize> = self
                .left_out
                .par_iter()
                .map(|&row| leaf_of(row as usize))
                .collect();
            for (&row, leaf) in self.left_out.iter().zip(leaves) {
                predictions[row as usize] += tree.nodes[leaf].value;
            }
        }
    }

    /// Stable partition of the node's rows: rows whose code is `<= left_bin` first (keeping rows
    /// ascending keeps histogram passes cache friendly). Returns the number of left rows.
    fn partition(&mut self, open: &OpenNode, split: &Split) -> usize {
        let column = self.binned.column(split.feature);
        stable_partition(
            &mut self.rows[open.start..open.end],
            &mut self.scratch,
            |&row| column[row as usize] as usize <= split.left_bin,
        )
    }
}

/// The best split of one open node on one feature's histogram, if any has positive gain.
fn best_split(
    histogram: &[GradBin],
    listed: &[u8],
    open: &OpenNode,
    feature: usize,
    params: &BoostingParams,
) -> Option<Split> {
    let lambda = params.lambda;
    let min_child = params.min_child_weight;
    // Scores G_L²/(H_L+λ) + G_R²/(H_R+λ) are compared as fractions by cross multiplication, so
    // the loop has no division. Starting from the parent's score, only a split with positive
    // gain can win.
    let mut best_numerator = open.grad * open.grad;
    let mut best_denominator = open.hess + lambda;
    let mut best: Option<Split> = None;
    let mut left_grad = 0.0;
    let mut left_hess = 0.0;
    // A listed bin may be empty in this node (lists are inherited from the parent); it repeats
    // the previous candidate's score, which the strict comparison ignores.
    for &left_bin in listed {
        let left_bin = left_bin as usize;
        let bin = histogram[left_bin];
        left_grad += bin.grad;
        left_hess += bin.hess;
        let right_hess = open.hess - left_hess;
        if right_hess < min_child || right_hess <= 0.0 {
            break;
        }
        let right_grad = open.grad - left_grad;
        let left_denominator = left_hess + lambda;
        let right_denominator = right_hess + lambda;
        let numerator =
            left_grad * left_grad * right_denominator + right_grad * right_grad * left_denominator;
        let denominator = left_denominator * right_denominator;
        if left_hess >= min_child
            && left_hess > 0.0
            && numerator * best_denominator > best_numerator * denominator
        {
            best_numerator = numerator;
            best_denominator = denominator;
            best = Some(Split {
                feature,
                left_bin,
                gain: 0.0,
                left_grad,
                left_hess,
            });
        }
    }
    let parent_score = open.grad * open.grad / (open.hess + lambda);
    best.map(|split| Split {
        gain: 0.5 * (best_numerator / best_denominator - parent_score),
        ..split
    })
}

#[cfg(test)]
mod tests {
    use super::super::cart::test_support::{check_covers, noisy_data, route};
    use super::*;

    fn rmse(predictions: &[f64], truth: &[f64]) -> f64 {
        let sum: f64 = predictions
            .iter()
            .zip(truth)
            .map(|(p, t)| (p - t).powi(2))
            .sum();
        (sum / truth.len() as f64).sqrt()
    }

    fn params(n_rounds: usize) -> BoostingParams {
        BoostingParams {
            n_rounds,
            ..BoostingParams::default()
        }
    }

    #[test]
    fn training_loss_decreases_every_round_without_subsampling() {
        let (x, y) = noisy_data(500, 5, 1.0, 1);
        let full = BoostingParams {
            subsample: 1.0,
            ..params(60)
        };
        let (model, history) = fit_boosting_with_history(&x, &y, &full, 0);
        assert_eq!(history.len(), 60);
        for pair in history.windows(2) {
            assert!(pair[1] < pair[0], "loss rose: {pair:?}");
        }
        // The history is the loss of the returned model.
        let mse = rmse(&model.predict(&x), &y).powi(2);
        assert!((mse - history[59]).abs() < 1e-9 * mse);
    }

    #[test]
    fn training_loss_falls_overall_with_subsampling() {
        let (x, y) = noisy_data(500, 5, 1.0, 1);
        let (model, history) = fit_boosting_with_history(&x, &y, &params(100), 0);
        assert!(history[99] < 0.2 * history[0]);
        // Rows left out of a round are routed by bin code during training; the raw thresholds
        // must send them the same way, so the recorded loss is the returned model's.
        let mse = rmse(&model.predict(&x), &y).powi(2);
        assert!((mse - history[99]).abs() < 1e-9 * mse);
    }

    #[test]
    fn generalises_on_friedman_data() {
        let (x, y) = noisy_data(2000, 8, 1.0, 21);
        let (x_test, y_test) = noisy_data(2000, 8, 0.0, 22);
        let model = fit_boosting(&x, &y, &params(400), 3);
        let error = rmse(&model.predict(&x_test), &y_test);
        // The target's standard deviation is about 5; the noise is 1.
        assert!(error < 1.0, "test rmse {error}");
    }

    #[test]
    fn covers_are_row_counts_and_leaf_weights_follow_the_formula() {
        let (x, y) = noisy_data(300, 4, 1.0, 2);
        let full = BoostingParams {
            subsample: 1.0,
            lambda: 2.0,
            learning_rate: 0.3,
            ..params(1)
        };
        let model = fit_boosting(&x, &y, &full, 0);
        let tree = &model.trees[0];
        assert_eq!(tree.nodes[0].cover, 300.0);
        check_covers(tree);
        assert!(tree.depth() <= 6 && tree.depth() >= 3);
        // Each leaf's weight is −G/(H+λ)·η over the training rows routed to it by threshold
        // (the first round's gradient is base_score − y).
        for (node, (count, target_sum)) in tree.nodes.iter().zip(route(tree, &x, &y)) {
            if node.is_leaf() {
                let grad = count as f64 * model.base_score - target_sum;
                let hess = count as f64;
                assert_eq!(hess, node.cover);
                assert!((node.value - (-grad / (hess + 2.0) * 0.3)).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn weights_of_one_change_nothing_and_a_weight_of_two_is_a_duplicate() {
        let (x, y) = noisy_data(500, 5, 1.0, 11);
        let params = BoostingParams {
            n_rounds: 30,
            learning_rate: 0.1,
            max_depth: 3,
            lambda: 1.0,
            min_child_weight: 5.0,
            subsample: 0.8,
            max_bins: 64,
        };
        let plain = fit_boosting(&x, &y, &params, 3);
        let ones = fit_boosting_weighted(&x, &y, &vec![1.0; y.len()], &params, 3);
        assert_eq!(plain, ones);

        // Integer features (every value its own bin, so duplicating rows moves no threshold)
        // and no subsampling: weight 2 on the first 40 rows fits as those rows twice.
        let n = 200;
        let column: Vec<f64> = (0..n).map(|i| (i % 20) as f64).collect();
        let target: Vec<f64> = (0..n)
            .map(|i| (i % 20) as f64 + ((i * 7919) % 13) as f64 / 13.0)
            .collect();
        let params = BoostingParams {
            subsample: 1.0,
            ..params
        };
        let weights: Vec<f64> = (0..n).map(|i| if i < 40 { 2.0 } else { 1.0 }).collect();
        let weighted = fit_boosting_weighted(
            &Matrix::new(n, 1, column.clone()),
            &target,
            &weights,
            &params,
            5,
        );
        let (mut dup_x, mut dup_y) = (column.clone(), target.clone());
        dup_x.extend_from_slice(&column[..40]);
        dup_y.extend_from_slice(&target[..40]);
        let duplicated = fit_boosting(&Matrix::new(n + 40, 1, dup_x), &dup_y, &params, 5);
        let grid = Matrix::new(20, 1, (0..20u32).map(f64::from).collect());
        for (a, b) in weighted
            .predict(&grid)
            .iter()
            .zip(duplicated.predict(&grid))
        {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn min_child_weight_limits_leaf_size() {
        let (x, y) = noisy_data(400, 4, 1.0, 4);
        let heavy = BoostingParams {
            min_child_weight: 25.0,
            max_depth: 10,
            ..params(5)
        };
        let model = fit_boosting(&x, &y, &heavy, 0);
        for tree in &model.trees {
            assert!(tree
                .nodes
                .iter()
                .filter(|node| node.is_leaf())
                .all(|node| node.cover >= 25.0));
        }
    }

    #[test]
    fn max_depth_zero_gives_stumps_of_the_mean() {
        let (x, y) = noisy_data(100, 3, 1.0, 4);
        let model = fit_boosting(
            &x,
            &y,
            &BoostingParams {
                max_depth: 0,
                subsample: 1.0,
                ..params(3)
            },
            0,
        );
        for tree in &model.trees {
            assert_eq!(tree.nodes.len(), 1);
            assert!(tree.nodes[0].value.abs() < 1e-12);
        }
    }

    #[test]
    fn identical_whatever_the_thread_count() {
        let (x, y) = noisy_data(3000, 6, 1.0, 8);
        let settings = params(20);
        let fit_with = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool")
                .install(|| fit_boosting_with_history(&x, &y, &settings, 42))
        };
        let one = fit_with(1);
        assert_eq!(one, fit_with(2));
        assert_ne!(one.0, fit_boosting(&x, &y, &settings, 43));
    }

    #[test]
    fn json_round_trip_keeps_predictions() {
        let (x, y) = noisy_data(200, 4, 1.0, 3);
        let model = fit_boosting(&x, &y, &params(20), 0);
        let json = serde_json::to_string(&model).expect("serialise");
        let back: Boosting = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, model);
        assert_eq!(back.predict(&x), model.predict(&x));
    }

    #[test]
    fn no_rows_give_the_zero_model() {
        let x = Matrix::new(0, 2, vec![]);
        let (model, history) = fit_boosting_with_history(&x, &[], &params(2), 0);
        assert_eq!(model.predict_row(&[1.0, 2.0]), 0.0);
        assert_eq!(history, [0.0, 0.0]);
    }
}
