//! CART regression trees on binned features, and the feature binning that the forest and
//! gradient boosting share.
//!
//! Each feature is binned once into at most 256 quantile bins (`u8` codes, column-major), so a
//! split search is a histogram pass over the node's rows instead of a sort. A split between two
//! bins becomes a real threshold: the midpoint between the largest training value of the left
//! bin and the smallest training value of the next occupied bin, so `row[f] <= threshold` on raw
//! data reproduces the training partition exactly (and with ≤ 256 distinct values it is exactly
//! scikit-learn's midpoint rule).
//!
//! Trees grow depth-first until a node is pure or a stopping rule (`max_depth`,
//! `min_samples_split`, `min_samples_leaf`) holds. Rows carry integer weights so that a bootstrap
//! sample is grown as its distinct rows with their multiplicities: sums, node values and covers
//! count the multiplicity, while `min_samples_split` and `min_samples_leaf` count distinct rows,
//! as scikit-learn does.
//!
//! The features a node draws come from a random stream seeded by the tree's seed and the node's
//! path from the root, not by the order nodes are grown in. So trees that differ only in their
//! stopping rules can be grown in one pass (`grow_trees`): while they choose the same splits
//! they share the node's histograms, and each is still exactly the tree grown alone. The
//! default grid's forests with `min_samples_leaf` 1 and 5 are grown that way in
//! cross-validation.

use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::matrix::Matrix;
pub use super::max_features::MaxFeatures;
use super::tree::{Node, Tree, LEAF};

/// The most bins a feature can have: codes are `u8`.
pub(crate) const MAX_BINS: usize = 256;

/// Hyper-parameters of one regression tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Deepest allowed leaf (root = depth 0); `None` grows until pure or too small to split.
    pub max_depth: Option<usize>,
    /// Fewest distinct training rows in a leaf (0 is treated as 1).
    pub min_samples_leaf: usize,
    /// Fewest distinct training rows a node needs to be split.
    pub min_samples_split: usize,
    /// Features drawn per split.
    pub max_features: MaxFeatures,
    /// Bins per feature, clamped to `2..=256`.
    pub max_bins: usize,
}

impl Default for TreeParams {
    /// scikit-learn's defaults, with 256 bins.
    fn default() -> Self {
        Self {
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: MaxFeatures::All,
            max_bins: MAX_BINS,
        }
    }
}

/// Fits one CART regression tree (squared error) on all rows of `x`.
///
/// `seed` only matters when `max_features` draws fewer than all features. With no rows the tree
/// is a single leaf of value 0 and cover 0. Panics if `y.len() != x.n_rows`.
pub fn fit_tree(x: &Matrix, y: &[f64], params: &TreeParams, seed: u64) -> Tree {
    assert_eq!(x.n_rows, y.len(), "one target per row is required");
    let binned = BinnedMatrix::new(x, params.max_bins);
    let target = CenteredTarget::new(y);
    let sample = (0..x.n_rows as u32)
        .map(|row| SampleRow::new(row, 1, &target))
        .collect();
    grow_tree(&binned, &target, sample, params, seed)
}

/// A stream seed derived from a base seed and a stream index (SplitMix64 finaliser), so that
/// tree `i` of a forest gets the same random numbers whichever thread grows it.
pub(crate) fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Features binned once, shared by every tree of a forest and every round of boosting.
#[derive(Clone, Debug)]
pub(crate) struct BinnedMatrix {
    pub(crate) n_rows: usize,
    pub(crate) n_cols: usize,
    /// Column-major bin codes: `codes[f * n_rows + i]`.
    codes: Vec<u8>,
    /// The same codes row-major, `rows[i * n_cols + f]`: a node's split search reads each of
    /// its rows' codes from one cache line.
    rows: Vec<u8>,
    /// Per feature, the largest training value in each bin (ascending).
    upper: Vec<Vec<f64>>,
    /// Per feature, the smallest training value in each bin (ascending).
    lower: Vec<Vec<f64>>,
}

impl BinnedMatrix {
    /// Bins every column of `x` into at most `max_bins` (clamped to `2..=256`) quantile bins.
    pub(crate) fn new(x: &Matrix, max_bins: usize) -> Self {
        let max_bins = max_bins.clamp(2, MAX_BINS);
        let n_rows = x.n_rows;
        let columns: Vec<(Vec<u8>, Vec<f64>, Vec<f64>)> = (0..x.n_cols)
            .into_par_iter()
            .map(|f| bin_column(&x.column(f), max_bins))
            .collect();
        let mut codes = Vec::with_capacity(n_rows * x.n_cols);
        let mut upper = Vec::with_capacity(x.n_cols);
        let mut lower = Vec::with_capacity(x.n_cols);
        for (column_codes, column_upper, column_lower) in columns {
            codes.extend_from_slice(&column_codes);
            upper.push(column_upper);
            lower.push(column_lower);
        }
        let mut rows = vec![0u8; n_rows * x.n_cols];
        for (f, column) in codes.chunks_exact(n_rows.max(1)).enumerate() {
            for (i, &code) in column.iter().enumerate() {
                rows[i * x.n_cols + f] = code;
            }
        }
        Self {
            n_rows,
            n_cols: x.n_cols,
            codes,
            rows,
            upper,
            lower,
        }
    }

    /// The bin codes of row `i`, one per feature.
    #[inline]
    pub(crate) fn row_codes(&self, i: usize) -> &[u8] {
        &self.rows[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// The bin codes of feature `f`, one per row.
    #[inline]
    pub(crate) fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// The bin code of row `i` for feature `f`.
    #[inline]
    pub(crate) fn code(&self, f: usize, i: usize) -> u8 {
        self.codes[f * self.n_rows + i]
    }

    /// Number of bins of feature `f` (0 when there are no rows).
    #[inline]
    pub(crate) fn n_bins(&self, f: usize) -> usize {
        self.upper[f].len()
    }

    /// The raw threshold separating bin `left_bin` from the next occupied bin `right_bin`:
    /// every training value of bins `..=left_bin` is `<=` it and every value of bins
    /// `right_bin..` is `>` it.
    pub(crate) fn threshold(&self, f: usize, left_bin: usize, right_bin: usize) -> f64 {
        let below = self.upper[f][left_bin];
        let above = self.lower[f][right_bin];
        // Halving first cannot overflow; when the two values are adjacent floats the midpoint
        // rounds onto `above`, and then `below` itself is the separating threshold.
        let middle = below * 0.5 + above * 0.5;
        if middle >= below && middle < above {
            middle
        } else {
            below
        }
    }
}

/// Bins one column: returns the codes and each bin's smallest and largest value.
///
/// With at most `max_bins` distinct values each gets its own bin. Otherwise distinct values are
/// grouped greedily into bins of about equal row counts, re-aiming after each bin so that a
/// heavily repeated value (say, many zeros) takes one bin and the rest are still spread evenly.
fn bin_column(values: &[f64], max_bins: usize) -> (Vec<u8>, Vec<f64>, Vec<f64>) {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    // Distinct values with their counts.
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &value in &sorted {
        match distinct.last_mut() {
            Some((last, count)) if *last == value => *count += 1,
            _ => distinct.push((value, 1)),
        }
    }
    let mut upper = Vec::new();
    let mut lower = Vec::new();
    if distinct.len() <= max_bins {
        for &(value, _) in &distinct {
            lower.push(value);
            upper.push(value);
        }
    } else {
        let mut rows_left = sorted.len();
        let mut bin_lower = distinct[0].0;
        let mut in_bin = 0usize;
        for (k, &(value, count)) in distinct.iter().enumerate() {
            if in_bin == 0 {
                bin_lower = value;
            }
            in_bin += count;
            let bins_left = max_bins - upper.len();
            let target = rows_left.div_ceil(bins_left);
            let values_left = distinct.len() - k - 1;
            // Close the bin when it is full, when the remaining values exactly fill the
            // remaining bins, or at the end. The last bin takes whatever is left.
            let close = k + 1 == distinct.len()
                || (bins_left > 1 && (in_bin >= target || values_left < bins_left));
            if close {
                lower.push(bin_lower);
                upper.push(value);
                rows_left -= in_bin;
                in_bin = 0;
            }
        }
    }
    let codes = values
        .iter()
        .map(|&value| {
            upper
                .partition_point(|&edge| edge < value)
                .min(upper.len() - 1) as u8
        })
        .collect();
    (codes, upper, lower)
}

/// The targets, also shifted by their mean so that the split criterion's sums do not cancel.
pub(crate) struct CenteredTarget<'a> {
    /// As given: leaf values are means of these, so a constant leaf is exactly its constant.
    pub(crate) raw: &'a [f64],
    /// `raw − offset`.
    pub(crate) centered: Vec<f64>,
    pub(crate) offset: f64,
}

impl<'a> CenteredTarget<'a> {
    pub(crate) fn new(raw: &'a [f64]) -> Self {
        let offset = if raw.is_empty() {
            0.0
        } else {
            raw.iter().sum::<f64>() / raw.len() as f64
        };
        Self {
            raw,
            centered: raw.iter().map(|value| value - offset).collect(),
            offset,
        }
    }
}

/// One distinct training row of a tree's sample.
#[derive(Clone, Copy)]
pub(crate) struct SampleRow {
    pub(crate) row: u32,
    /// Multiplicity in the bootstrap sample (1 without bootstrap).
    pub(crate) weight: u32,
    /// `weight · centred target`, precomputed for the histogram passes.
    pub(crate) weighted: f64,
}

impl SampleRow {
    pub(crate) fn new(row: u32, weight: u32, target: &CenteredTarget) -> Self {
        Self {
            row,
            weight,
            weighted: f64::from(weight) * target.centered[row as usize],
        }
    }
}

/// Per-bin sums of one feature over one node's rows.
#[derive(Clone, Copy, Default)]
struct BinStats {
    sum: f64,
    /// Weight in the high 32 bits, distinct rows in the low 32: one add updates both.
    packed: u64,
}

/// The best split of a node found so far.
#[derive(Clone, Copy)]
struct Candidate {
    feature: usize,
    left_bin: usize,
    right_bin: usize,
    left_weight: f64,
    left_sum: f64,
}

/// The most trees [`grow_trees`] grows in one pass.
pub(crate) const MAX_JOINT: usize = 4;

/// Marks a tree that does not grow at a pending node.
const ABSENT: u32 = u32::MAX;

/// The stopping rules of one tree of a joint pass.
#[derive(Clone, Copy)]
struct Rules {
    min_leaf: usize,
    min_split: usize,
    max_depth: usize,
}

impl Rules {
    fn new(params: &TreeParams) -> Self {
        let min_leaf = params.min_samples_leaf.max(1);
        Self {
            min_leaf,
            min_split: params.min_samples_split.max(2 * min_leaf),
            max_depth: params.max_depth.unwrap_or(usize::MAX),
        }
    }
}

/// A node waiting to be grown: its rows are `sample[start..end]`; `nodes[t]` is its index in
/// tree `t`, or `ABSENT` when tree `t` does not grow here.
#[derive(Clone, Copy)]
struct Pending {
    start: usize,
    end: usize,
    depth: usize,
    weight: f64,
    sum: f64,
    /// Names the node's path from the root; its feature draws come from a stream seeded by it.
    key: u64,
    nodes: [u32; MAX_JOINT],
    /// The evaluation rows that reach the node: `eval_rows[eval_start..eval_end]` (see
    /// [`grow_trees_predict`]; empty otherwise).
    eval_start: usize,
    eval_end: usize,
}

/// What every node of a pass shares.
struct Grow<'a> {
    binned: &'a BinnedMatrix,
    target: &'a CenteredTarget<'a>,
    rules: Vec<Rules>,
    max_features: usize,
    seed: u64,
    /// Rows to predict while growing ([`grow_trees_predict`]): only nodes they reach are grown.
    x_eval: Option<&'a Matrix>,
}

/// Per tree of a pass: its nodes, and its predictions of the evaluation rows (if any).
struct Outputs {
    trees: Vec<Vec<Node>>,
    predictions: Vec<Vec<f64>>,
}

impl Outputs {
    /// Makes `node` of tree `t` a final leaf holding the mean of its rows' targets; the
    /// evaluation rows that reach it take that value.
    fn set_leaf(
        &mut self,
        grow: &Grow,
        t: usize,
        node: u32,
        rows: &[SampleRow],
        eval_rows: &[u32],
    ) {
        let node = &mut self.trees[t][node as usize];
        set_leaf_value(node, grow.target.raw, rows);
        if let Some(predictions) = self.predictions.get_mut(t) {
            for &row in eval_rows {
                predictions[row as usize] = node.value;
            }
        }
    }
}

/// Grows one tree on the given distinct rows (with their bootstrap multiplicities). The
/// features drawn at a node come from a random stream seeded by `seed` and the node's path.
pub(crate) fn grow_tree(
    binned: &BinnedMatrix,
    target: &CenteredTarget,
    sample: Vec<SampleRow>,
    params: &TreeParams,
    seed: u64,
) -> Tree {
    grow_trees(binned, target, sample, std::slice::from_ref(params), seed)
        .pop()
        .expect("one tree per parameter set")
}

/// Grows one tree per parameter set on the same rows in one pass — each exactly the tree
/// [`grow_tree`] grows with that set. The sets may differ only in their stopping rules
/// (`max_depth`, `min_samples_leaf`, `min_samples_split`). A node's feature draws depend only
/// on its path, so while the trees choose the same splits they share one search (one
/// histogram pass, one walk scoring every tree's candidates); where they part, each part goes
/// on with its own copy of the node's rows.
///
/// Panics without parameter sets, with more than [`MAX_JOINT`], or when they differ in more
/// than their stopping rules.
pub(crate) fn grow_trees(
    binned: &BinnedMatrix,
    target: &CenteredTarget,
    sample: Vec<SampleRow>,
    params: &[TreeParams],
    seed: u64,
) -> Vec<Tree> {
    let outputs = grow_pass(binned, target, sample, params, seed, None);
    outputs
        .trees
        .into_iter()
        .map(|mut nodes| {
            // Children come after their parent: one backward pass makes every internal value
            // the cover-weighted mean of its children, hence of its leaves.
            for index in (0..nodes.len()).rev() {
                let node = &nodes[index];
                if !node.is_leaf() {
                    let (left, right) = (&nodes[node.left as usize], &nodes[node.right as usize]);
                    nodes[index].value =
                        (left.cover * left.value + right.cover * right.value) / node.cover;
                }
            }
            Tree { nodes }
        })
        .collect()
}

/// What each tree [`grow_trees`] would grow predicts for every row of `x_eval` — the same
/// numbers as growing the trees and predicting — without growing the parts of the trees that
/// no row of `x_eval` reaches. The rows travel down with the training rows (routed by their raw
/// values, as prediction does); a node none of them reaches is never searched or split. Node
/// draws depend only on the node's path, so every node that is grown is grown exactly as in
/// the whole tree. Cross-validation needs only these predictions: in a tree grown to one-row
/// leaves, most nodes are small and many of them hold no validation row.
pub(crate) fn grow_trees_predict(
    binned: &BinnedMatrix,
    target: &CenteredTarget,
    sample: Vec<SampleRow>,
    params: &[TreeParams],
    seed: u64,
    x_eval: &Matrix,
) -> Vec<Vec<f64>> {
    grow_pass(binned, target, sample, params, seed, Some(x_eval)).predictions
}

/// The pass behind [`grow_trees`] and [`grow_trees_predict`].
fn grow_pass(
    binned: &BinnedMatrix,
    target: &CenteredTarget,
    mut sample: Vec<SampleRow>,
    params: &[TreeParams],
    seed: u64,
    x_eval: Option<&Matrix>,
) -> Outputs {
    assert!(
        (1..=MAX_JOINT).contains(&params.len()),
        "1 to {MAX_JOINT} trees per pass"
    );
    assert!(
        params
            .iter()
            .all(|p| p.max_features == params[0].max_features && p.max_bins == params[0].max_bins),
        "trees grown together share max_features and max_bins"
    );
    let grow = Grow {
        binned,
        target,
        rules: params.iter().map(Rules::new).collect(),
        max_features: params[0].max_features.count(binned.n_cols),
        seed,
        x_eval,
    };
    let root_weight: f64 = sample.iter().map(|entry| f64::from(entry.weight)).sum();
    let root_sum: f64 = sample.iter().map(|entry| entry.weighted).sum();
    let mut outputs = Outputs {
        trees: params
            .iter()
            .map(|_| vec![leaf_node(root_weight, root_sum, target.offset)])
            .collect(),
        predictions: match x_eval {
            Some(x_eval) => vec![vec![0.0; x_eval.n_rows]; params.len()],
            None => Vec::new(),
        },
    };
    let mut eval_rows: Vec<u32> = (0..x_eval.map_or(0, |x| x.n_rows) as u32).collect();
    let mut nodes = [ABSENT; MAX_JOINT];
    nodes[..params.len()].fill(0);
    let root = Pending {
        start: 0,
        end: sample.len(),
        depth: 0,
        weight: root_weight,
        sum: root_sum,
        key: 1,
        nodes,
        eval_start: 0,
        eval_end: eval_rows.len(),
    };
    let mut buffers = GrowBuffers::new(binned.n_cols, grow.max_features);
    grow.grow_from(
        &mut sample,
        &mut eval_rows,
        root,
        &mut outputs,
        &mut buffers,
    );
    outputs
}

/// A histogram's length: 256 bins and 64 bytes of padding (see [`GrowBuffers::histograms`]).
const PADDED_BINS: usize = MAX_BINS + 4;

/// Working buffers of a pass. Histograms are all zero between nodes (every walk clears the
/// bins it reads).
struct GrowBuffers {
    feature_order: Vec<usize>,
    /// One histogram and occupancy bitmap per feature of a batch.
    /// Padded past 256 bins so that consecutive histograms are not exactly 4 KiB apart: the
    /// same bin of several features would otherwise share an L1 set, and a load after a
    /// store to another feature's same bin would stall on a false dependency (4K aliasing).
    histograms: Vec<[BinStats; PADDED_BINS]>,
    bitmaps: Vec<[u64; MAX_BINS / 64]>,
    scratch: Vec<SampleRow>,
    eval_scratch: Vec<u32>,
}

impl GrowBuffers {
    fn new(n_features: usize, max_features: usize) -> Self {
        Self {
            feature_order: Vec::with_capacity(n_features),
            histograms: vec![[BinStats::default(); PADDED_BINS]; max_features.max(1)],
            bitmaps: vec![[0u64; MAX_BINS / 64]; max_features.max(1)],
            scratch: Vec::new(),
            eval_scratch: Vec::new(),
        }
    }
}

/// Stable partition: the rows for which `goes_left` holds first, each side in its original
/// order (rows kept ascending keep the histogram passes reading the codes front to back, which
/// matters once they outgrow the L1 cache). Returns the number of left rows. Branch-free: every
/// row is written to both sides and only one count advances (which side a row goes to is a coin
/// flip to the branch predictor).
pub(crate) fn stable_partition<T: Copy>(
    rows: &mut [T],
    scratch: &mut Vec<T>,
    goes_left: impl Fn(&T) -> bool,
) -> usize {
    let Some(&first) = rows.first() else {
        return 0;
    };
    if scratch.len() < rows.len() {
        scratch.resize(rows.len(), first);
    }
    let (mut n_left, mut n_right) = (0, 0);
    for index in 0..rows.len() {
        let entry = rows[index];
        let left = goes_left(&entry);
        rows[n_left] = entry;
        scratch[n_right] = entry;
        n_left += usize::from(left);
        n_right += usize::from(!left);
    }
    rows[n_left..].copy_from_slice(&scratch[..n_right]);
    n_left
}

/// The split search of one node for the trees growing there (`n_members` of them).
struct Search {
    n_members: usize,
    min_leaf: [usize; MAX_JOINT],
    /// Whether each tree is still drawing features.
    active: [bool; MAX_JOINT],
    best: [Option<Candidate>; MAX_JOINT],
    /// Each tree's best score so far as a fraction; every score is >= 0, so the first valid
    /// split beats -1/1.
    best_numerator: [f64; MAX_JOINT],
    best_denominator: [f64; MAX_JOINT],
}

/// One feature's histogram of a node, walked for a [`Search`].
struct Walk<'a> {
    histogram: &'a mut [BinStats; PADDED_BINS],
    bitmap: &'a [u64; MAX_BINS / 64],
    feature: usize,
    n_rows: usize,
    weight: f64,
    sum: f64,
}

impl Walk<'_> {
    /// Scores every split between occupied bins for the active trees, clearing the bins.
    /// `ONE`: a single tree searches (the common case, kept free of the per-tree loop).
    #[inline(always)]
    fn run<const ONE: bool>(self, search: &mut Search) {
        let n_members = if ONE { 1 } else { search.n_members };
        let mut left_packed = 0u64;
        let mut left_sum = 0.0;
        let mut left_bin = usize::MAX;
        for (word_index, &word) in self.bitmap.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let bin = word_index * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if left_bin != usize::MAX {
                    let left_rows = (left_packed & 0xFFFF_FFFF) as usize;
                    let right_rows = self.n_rows - left_rows;
                    let left_weight = (left_packed >> 32) as f64;
                    let right_weight = self.weight - left_weight;
                    let right_sum = self.sum - left_sum;
                    // score = S_L²/W_L + S_R²/W_R = numerator / denominator; comparing by
                    // cross multiplication keeps divisions out of this inner loop.
                    let numerator =
                        left_sum * left_sum * right_weight + right_sum * right_sum * left_weight;
                    let denominator = left_weight * right_weight;
                    for m in 0..n_members {
                        // A lone tree is active, or the search would have stopped.
                        if (ONE || search.active[m])
                            && left_rows >= search.min_leaf[m]
                            && right_rows >= search.min_leaf[m]
                            && numerator * search.best_denominator[m]
                                > search.best_numerator[m] * denominator
                        {
                            search.best_numerator[m] = numerator;
                            search.best_denominator[m] = denominator;
                            search.best[m] = Some(Candidate {
                                feature: self.feature,
                                left_bin,
                                right_bin: bin,
                                left_weight,
                                left_sum,
                            });
                        }
                    }
                }
                let stats = std::mem::take(&mut self.histogram[bin]);
                left_packed += stats.packed;
                left_sum += stats.sum;
                left_bin = bin;
            }
        }
    }
}

/// The child key of a node key: a different stream for every path.
fn child_key(key: u64, side: u64) -> u64 {
    derive_seed(key, side)
}

impl Grow<'_> {
    /// Grows the trees present in `root` below it, depth-first, left subtree first (so every
    /// tree numbers its nodes as it would grown alone).
    fn grow_from(
        &self,
        sample: &mut [SampleRow],
        eval_rows: &mut [u32],
        root: Pending,
        outputs: &mut Outputs,
        buffers: &mut GrowBuffers,
    ) {
        let y = &self.target.centered;
        let binned = self.binned;
        let mut stack = vec![root];
        while let Some(task) = stack.pop() {
            let eval_here = &eval_rows[task.eval_start..task.eval_end];
            if self.x_eval.is_some() && eval_here.is_empty() {
                // No row to predict reaches this node: nothing below it is ever read.
                continue;
            }
            let rows = &sample[task.start..task.end];
            let n_rows = rows.len();
            // The trees that search this node; the others end in a leaf here.
            let mut members = [0usize; MAX_JOINT];
            let mut n_members = 0;
            let mut pure = None;
            for (t, &node) in task.nodes.iter().enumerate() {
                if node == ABSENT {
                    continue;
                }
                let rules = &self.rules[t];
                let stops = task.depth >= rules.max_depth
                    || n_rows < rules.min_split
                    || *pure.get_or_insert_with(|| is_pure(y, rows));
                if stops {
                    outputs.set_leaf(self, t, node, rows, eval_here);
                } else {
                    members[n_members] = t;
                    n_members += 1;
                }
            }
            if n_members == 0 {
                continue;
            }
            let members = &members[..n_members];
            let search = self.search(rows, &task, members, buffers);

            // Each searching tree's decision: a split with positive gain, or a leaf. Trees
            // choosing the same split stay together.
            let parent_score = task.sum * task.sum / task.weight;
            let mut splits: [Option<Candidate>; MAX_JOINT] = [None; MAX_JOINT];
            let mut gains = [0.0; MAX_JOINT];
            for (m, &t) in members.iter().enumerate() {
                gains[m] = search.best_numerator[m] / search.best_denominator[m] - parent_score;
                match search.best[m].filter(|_| gains[m] > 0.0) {
                    Some(split) => splits[m] = Some(split),
                    None => outputs.set_leaf(self, t, task.nodes[t], rows, eval_here),
                }
            }
            let same =
                |a: &Candidate, b: &Candidate| a.feature == b.feature && a.left_bin == b.left_bin;
            let Some(lead) = splits.iter().flatten().next().copied() else {
                continue;
            };
            // Trees parting from the first split grow on from here with their own copy of the
            // rows (a group of them again together).
            let mut parted = [false; MAX_JOINT];
            for m in 0..n_members {
                let Some(split) = splits[m] else { continue };
                if same(&split, &lead) || parted[m] {
                    continue;
                }
                let mut nodes = [ABSENT; MAX_JOINT];
                for other in m..n_members {
                    if splits[other].is_some_and(|s| same(&s, &split)) {
                        nodes[members[other]] = task.nodes[members[other]];
                        parted[other] = true;
                    }
                }
                let mut own_rows = rows.to_vec();
                let mut own_eval_rows = eval_here.to_vec();
                let own_task = Pending {
                    start: 0,
                    end: own_rows.len(),
                    nodes,
                    eval_start: 0,
                    eval_end: own_eval_rows.len(),
                    ..task
                };
                self.grow_from(
                    &mut own_rows,
                    &mut own_eval_rows,
                    own_task,
                    outputs,
                    buffers,
                );
            }
            // The split feature's codes are read row-major: the search has just read these
            // rows' lines, while the feature's column is cold once the data outgrows the cache.
            let n_left = stable_partition(
                &mut sample[task.start..task.end],
                &mut buffers.scratch,
                |entry| {
                    binned.row_codes(entry.row as usize)[lead.feature] as usize <= lead.left_bin
                },
            );
            let middle = task.start + n_left;
            let threshold = binned.threshold(lead.feature, lead.left_bin, lead.right_bin);
            let eval_middle = match self.x_eval {
                Some(x_eval) => {
                    task.eval_start
                        + stable_partition(
                            &mut eval_rows[task.eval_start..task.eval_end],
                            &mut buffers.eval_scratch,
                            |&row| x_eval.get(row as usize, lead.feature) <= threshold,
                        )
                }
                None => task.eval_start,
            };
            let right_weight = task.weight - lead.left_weight;
            let right_sum = task.sum - lead.left_sum;
            let mut left_nodes = [ABSENT; MAX_JOINT];
            let mut right_nodes = [ABSENT; MAX_JOINT];
            for (m, &t) in members.iter().enumerate() {
                if !splits[m].is_some_and(|s| same(&s, &lead)) {
                    continue;
                }
                let nodes = &mut outputs.trees[t];
                let left = nodes.len();
                nodes.push(leaf_node(
                    lead.left_weight,
                    lead.left_sum,
                    self.target.offset,
                ));
                nodes.push(leaf_node(right_weight, right_sum, self.target.offset));
                let parent = &mut nodes[task.nodes[t] as usize];
                parent.feature = lead.feature as u32;
                parent.threshold = threshold;
                parent.left = left as u32;
                parent.right = left as u32 + 1;
                parent.gain = gains[m];
                left_nodes[t] = left as u32;
                right_nodes[t] = left as u32 + 1;
            }
            // Right first, so the left subtree is grown (and numbered) first.
            stack.push(Pending {
                start: middle,
                end: task.end,
                depth: task.depth + 1,
                weight: right_weight,
                sum: right_sum,
                key: child_key(task.key, 1),
                nodes: right_nodes,
                eval_start: eval_middle,
                eval_end: task.eval_end,
            });
            stack.push(Pending {
                start: task.start,
                end: middle,
                depth: task.depth + 1,
                weight: lead.left_weight,
                sum: lead.left_sum,
                key: child_key(task.key, 0),
                nodes: left_nodes,
                eval_start: task.eval_start,
                eval_end: eval_middle,
            });
        }
    }

    /// Draws features for a node and finds each searching tree's best split among them.
    #[inline(always)]
    fn search(
        &self,
        rows: &[SampleRow],
        task: &Pending,
        members: &[usize],
        buffers: &mut GrowBuffers,
    ) -> Search {
        let n_rows = rows.len();
        let n_members = members.len();
        let binned = self.binned;
        let n_features = binned.n_cols;
        let max_features = self.max_features;
        let mut search = Search {
            n_members,
            min_leaf: std::array::from_fn(|m| {
                members.get(m).map_or(0, |&t| self.rules[t].min_leaf)
            }),
            active: [false; MAX_JOINT],
            best: [None; MAX_JOINT],
            best_numerator: [-1.0; MAX_JOINT],
            best_denominator: [1.0; MAX_JOINT],
        };
        let mut rng = rand_xoshiro::SplitMix64::seed_from_u64(self.seed ^ task.key);
        let feature_order = &mut buffers.feature_order;
        feature_order.clear();
        feature_order.extend(0..n_features);
        let mut informative_seen = 0;
        let mut drawn = 0;
        // Draw features without replacement until `max_features` non-constant ones were
        // looked at; like scikit-learn, a tree keeps drawing past that while it has no valid
        // split. The first `max_features` draws always happen, so their histograms are
        // built together in one pass over the node's rows; later draws go one at a time.
        // Candidates are scored in draw order either way, so each tree is the one a
        // feature-at-a-time search grows.
        loop {
            for m in 0..n_members {
                search.active[m] = drawn < n_features
                    && (informative_seen < max_features || search.best[m].is_none());
            }
            if !search.active.contains(&true) {
                break;
            }
            let batch = if drawn == 0 && n_rows > 2 {
                max_features
            } else {
                1
            };
            for position in drawn..drawn + batch {
                if max_features < n_features {
                    let pick = rng.gen_range(position..n_features);
                    feature_order.swap(position, pick);
                }
            }
            let features = &feature_order[drawn..drawn + batch];
            drawn += batch;
            if n_rows == 2 {
                // Two rows (only trees with one-row leaves get here): every feature that
                // separates them gives the same split, so the first one drawn wins, exactly
                // as the full search below would decide.
                let feature = features[0];
                let (first, second) = (
                    binned.code(feature, rows[0].row as usize),
                    binned.code(feature, rows[1].row as usize),
                );
                if first != second {
                    let (left, right) = if first < second {
                        (rows[0], rows[1])
                    } else {
                        (rows[1], rows[0])
                    };
                    for m in 0..n_members {
                        search.best[m] = Some(Candidate {
                            feature,
                            left_bin: first.min(second) as usize,
                            right_bin: first.max(second) as usize,
                            left_weight: f64::from(left.weight),
                            left_sum: left.weighted,
                        });
                        search.best_numerator[m] =
                            left.weighted * left.weighted * f64::from(right.weight)
                                + right.weighted * right.weighted * f64::from(left.weight);
                        search.best_denominator[m] =
                            f64::from(left.weight) * f64::from(right.weight);
                    }
                    break;
                }
                continue;
            }
            // Histograms of this node over the batch's features, remembering which bins are
            // occupied: one pass over the rows, reading each row's codes from one cache line.
            let histograms = &mut buffers.histograms[..batch];
            let bitmaps = &mut buffers.bitmaps[..batch];
            bitmaps.fill([0u64; MAX_BINS / 64]);
            for entry in rows {
                let codes = binned.row_codes(entry.row as usize);
                let packed = (u64::from(entry.weight) << 32) | 1;
                for ((&feature, histogram), bitmap) in features
                    .iter()
                    .zip(histograms.iter_mut())
                    .zip(bitmaps.iter_mut())
                {
                    let bin = codes[feature];
                    let stats = &mut histogram[bin as usize];
                    stats.sum += entry.weighted;
                    stats.packed += packed;
                    bitmap[(bin >> 6) as usize] |= 1 << (bin & 63);
                }
            }
            for ((&feature, histogram), bitmap) in features
                .iter()
                .zip(histograms.iter_mut())
                .zip(bitmaps.iter())
            {
                if bitmap.iter().map(|word| word.count_ones()).sum::<u32>() > 1 {
                    informative_seen += 1;
                }
                // Walk the occupied bins in order, clearing each as it is read. The split
                // between an occupied bin and the next one is scored on reaching the next
                // one, for every tree still drawing whose leaf sizes it respects.
                let walk = Walk {
                    histogram,
                    bitmap,
                    feature,
                    n_rows,
                    weight: task.weight,
                    sum: task.sum,
                };
                if n_members == 1 {
                    walk.run::<true>(&mut search);
                } else {
                    walk.run::<false>(&mut search);
                }
            }
        }
        search
    }
}

/// Sets a final leaf's value to the weighted mean of its raw targets (summing the centred ones
/// and adding the offset back would round a constant leaf off its constant).
fn set_leaf_value(node: &mut Node, raw: &[f64], rows: &[SampleRow]) {
    let (mut weight, mut sum) = (0.0, 0.0);
    for entry in rows {
        weight += f64::from(entry.weight);
        sum += f64::from(entry.weight) * raw[entry.row as usize];
    }
    node.value = if weight > 0.0 { sum / weight } else { 0.0 };
}

/// A node with its cover and provisional value; `grow_tree` makes it a split or a final leaf.
fn leaf_node(weight: f64, sum: f64, offset: f64) -> Node {
    let mean = if weight > 0.0 { sum / weight } else { 0.0 };
    Node {
        feature: 0,
        threshold: 0.0,
        left: LEAF,
        right: LEAF,
        value: mean + offset,
        cover: weight,
        gain: 0.0,
    }
}

/// True when every row has the same target: no split can help, and rounding could otherwise
/// fake a tiny positive gain.
fn is_pure(y: &[f64], rows: &[SampleRow]) -> bool {
    let Some(first) = rows.first() else {
        return true;
    };
    let first = y[first.row as usize];
    rows.iter().all(|entry| y[entry.row as usize] == first)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Shared synthetic data for the learners' tests.
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use crate::learn::matrix::Matrix;
    use crate::learn::tree::Tree;

    /// Friedman #1 on uniform features plus uniform noise of standard deviation `noise`.
    pub(crate) fn noisy_data(
        n_rows: usize,
        n_cols: usize,
        noise: f64,
        seed: u64,
    ) -> (Matrix, Vec<f64>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let data: Vec<f64> = (0..n_rows * n_cols).map(|_| rng.gen::<f64>()).collect();
        let x = Matrix::new(n_rows, n_cols, data);
        let y = (0..n_rows)
            .map(|i| {
                // Features beyond the matrix's width wrap around, so any width works.
                let feature = |k: usize| x.get(i, k % n_cols);
                10.0 * (std::f64::consts::PI * feature(0) * feature(1)).sin()
                    + 20.0 * (feature(2) - 0.5).powi(2)
                    + 10.0 * feature(3)
                    + noise * (rng.gen::<f64>() - 0.5) * 3.46
            })
            .collect();
        (x, y)
    }

    /// Routes every row of `x` by raw thresholds and returns, per node, how many rows and how
    /// much target reached it.
    pub(crate) fn route(tree: &Tree, x: &Matrix, y: &[f64]) -> Vec<(usize, f64)> {
        let mut reached = vec![(0usize, 0.0); tree.nodes.len()];
        for (i, &target) in y.iter().enumerate() {
            let row = x.row(i);
            let mut index = 0;
            loop {
                reached[index].0 += 1;
                reached[index].1 += target;
                let node = &tree.nodes[index];
                if node.is_leaf() {
                    break;
                }
                index = if row[node.feature as usize] <= node.threshold {
                    node.left
                } else {
                    node.right
                } as usize;
            }
        }
        reached
    }

    /// Asserts that children's covers add to the parent's, internal values are the
    /// cover-weighted means of their children and only splits carry (positive) gain.
    pub(crate) fn check_covers(tree: &Tree) {
        for node in &tree.nodes {
            if !node.is_leaf() {
                let left = &tree.nodes[node.left as usize];
                let right = &tree.nodes[node.right as usize];
                assert!((left.cover + right.cover - node.cover).abs() < 1e-9);
                let mean = (left.cover * left.value + right.cover * right.value) / node.cover;
                assert!((mean - node.value).abs() < 1e-9 * (1.0 + mean.abs()));
                assert!(node.gain > 0.0);
            } else {
                assert_eq!(node.gain, 0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{check_covers, noisy_data, route};
    use super::*;

    /// An independent oracle: on a 0/1 target a split's squared-error reduction is half its
    /// Gini reduction, so linfa-trees' Gini tree (a classifier) must choose the root split
    /// ours does — the same feature and the same rows on each side.
    #[test]
    fn root_split_matches_linfa_trees_on_a_binary_target() {
        use linfa::traits::Fit;
        use linfa::Dataset;
        use linfa_trees::{DecisionTree, SplitQuality};
        use rand::{Rng, SeedableRng};

        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let (n, d) = (400, 3);
        // Whole numbers below 40: fewer distinct values than bins, so our thresholds are exact.
        let data: Vec<f64> = (0..n * d).map(|_| rng.gen_range(0..40) as f64).collect();
        let labels: Vec<usize> = (0..n)
            .map(|i| usize::from(data[i * d + 1] + rng.gen_range(-8.0..8.0) > 22.0))
            .collect();
        let y: Vec<f64> = labels.iter().map(|&l| l as f64).collect();
        let params = TreeParams {
            max_depth: Some(1),
            ..TreeParams::default()
        };
        let ours = fit_tree(&Matrix::new(n, d, data.clone()), &y, &params, 0);
        let records = ndarray::Array2::from_shape_vec((n, d), data.clone()).unwrap();
        let theirs = DecisionTree::params()
            .split_quality(SplitQuality::Gini)
            .max_depth(Some(1))
            .fit(&Dataset::new(records, ndarray::Array1::from_vec(labels)))
            .unwrap();
        let (feature, value, _) = theirs.root_node().split();
        let root = &ours.nodes[0];
        assert_eq!(root.feature as usize, feature, "split feature");
        let left = |v: f64, at: f64| v <= at;
        let mut on_left = 0;
        for i in 0..n {
            let v = data[i * d + feature];
            assert_eq!(left(v, root.threshold), left(v, value), "row {i}: {v}");
            on_left += usize::from(left(v, value));
        }
        assert!(
            0 < on_left && on_left < n,
            "{on_left} of {n} rows on the left"
        );
    }

    #[test]
    fn step_function_is_recovered_exactly_by_one_tree() {
        let xs: Vec<f64> = (0..100).map(f64::from).collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|&v| {
                if v < 30.0 {
                    1.0
                } else if v < 70.0 {
                    5.0
                } else {
                    -2.0
                }
            })
            .collect();
        let x = Matrix::from_columns(std::slice::from_ref(&xs));
        let tree = fit_tree(&x, &y, &TreeParams::default(), 0);
        assert_eq!(tree.n_leaves(), 3);
        let mut thresholds: Vec<f64> = tree
            .nodes
            .iter()
            .filter(|node| !node.is_leaf())
            .map(|node| node.threshold)
            .collect();
        thresholds.sort_by(f64::total_cmp);
        assert_eq!(thresholds, [29.5, 69.5]);
        for (i, &value) in xs.iter().enumerate() {
            assert_eq!(tree.predict_row(&[value]), y[i]);
        }
        assert_eq!(tree.predict_row(&[29.4]), 1.0);
        assert_eq!(tree.predict_row(&[29.6]), 5.0);
    }

    #[test]
    fn thresholds_reproduce_the_training_partition_with_many_distinct_values() {
        // More distinct values than bins: rows routed by raw thresholds must land exactly where
        // the binned training put them.
        let (x, y) = noisy_data(2000, 3, 1.0, 7);
        let tree = fit_tree(&x, &y, &TreeParams::default(), 0);
        check_covers(&tree);
        assert_eq!(tree.nodes[0].cover, 2000.0);
        assert!(tree.n_leaves() > 1000);
        for (node, (count, sum)) in tree.nodes.iter().zip(route(&tree, &x, &y)) {
            assert_eq!(count as f64, node.cover);
            assert!((sum / count as f64 - node.value).abs() < 1e-9);
        }
    }

    #[test]
    fn covers_add_up_and_root_cover_is_row_count() {
        let (x, y) = noisy_data(500, 4, 1.0, 3);
        let params = TreeParams {
            max_depth: Some(6),
            ..TreeParams::default()
        };
        let tree = fit_tree(&x, &y, &params, 0);
        assert_eq!(tree.nodes[0].cover, 500.0);
        assert!((tree.nodes[0].value - y.iter().sum::<f64>() / 500.0).abs() < 1e-9);
        check_covers(&tree);
        assert!(tree.depth() <= 6);
        assert!(tree.depth() >= 5);
    }

    #[test]
    fn min_samples_leaf_is_honoured() {
        let (x, y) = noisy_data(400, 3, 1.0, 5);
        for min_leaf in [1, 7, 30] {
            let params = TreeParams {
                min_samples_leaf: min_leaf,
                ..TreeParams::default()
            };
            let tree = fit_tree(&x, &y, &params, 0);
            for (node, (count, _)) in tree.nodes.iter().zip(route(&tree, &x, &y)) {
                if node.is_leaf() {
                    assert!(count >= min_leaf, "leaf with {count} rows");
                    assert_eq!(count as f64, node.cover);
                }
            }
            if min_leaf == 1 {
                assert!(tree
                    .nodes
                    .iter()
                    .any(|node| node.is_leaf() && node.cover == 1.0));
            }
        }
    }

    #[test]
    fn min_samples_split_stops_small_nodes() {
        let (x, y) = noisy_data(300, 2, 1.0, 9);
        let params = TreeParams {
            min_samples_split: 40,
            ..TreeParams::default()
        };
        let tree = fit_tree(&x, &y, &params, 0);
        for node in &tree.nodes {
            if !node.is_leaf() {
                assert!(node.cover >= 40.0);
            }
        }
    }

    #[test]
    fn constant_target_gives_a_single_leaf() {
        let (x, _) = noisy_data(50, 3, 0.0, 1);
        let tree = fit_tree(&x, &[2.5; 50], &TreeParams::default(), 0);
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.nodes[0].value, 2.5);
    }

    #[test]
    fn constant_features_give_a_single_leaf() {
        let x = Matrix::new(4, 2, vec![1.0; 8]);
        let tree = fit_tree(&x, &[1.0, 2.0, 3.0, 4.0], &TreeParams::default(), 0);
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.nodes[0].value, 2.5);
    }

    #[test]
    fn no_rows_give_a_zero_leaf() {
        let x = Matrix::new(0, 3, vec![]);
        let tree = fit_tree(&x, &[], &TreeParams::default(), 0);
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.nodes[0].value, 0.0);
        assert_eq!(tree.nodes[0].cover, 0.0);
    }

    #[test]
    fn feature_subsampling_still_finds_a_split_on_the_only_useful_feature() {
        // Two constant features and one useful one; drawing one feature per split must keep
        // drawing past constant features.
        let n = 64;
        let useful: Vec<f64> = (0..n).map(f64::from).collect();
        let x =
            Matrix::from_columns(&[vec![0.0; n as usize], useful.clone(), vec![3.0; n as usize]]);
        let y: Vec<f64> = useful
            .iter()
            .map(|&v| if v < 20.0 { 0.0 } else { 1.0 })
            .collect();
        let params = TreeParams {
            max_features: MaxFeatures::Fraction(0.1),
            ..TreeParams::default()
        };
        for seed in 0..10 {
            let tree = fit_tree(&x, &y, &params, seed);
            assert_eq!(tree.n_leaves(), 2);
            assert_eq!(tree.nodes[0].feature, 1);
        }
    }

    #[test]
    fn max_features_counts_like_scikit_learn() {
        assert_eq!(MaxFeatures::All.count(14), 14);
        assert_eq!(MaxFeatures::Sqrt.count(14), 3);
        assert_eq!(MaxFeatures::Fraction(0.5).count(14), 7);
        assert_eq!(MaxFeatures::Fraction(0.01).count(14), 1);
        assert_eq!(MaxFeatures::Fraction(2.0).count(14), 14);
        assert_eq!(MaxFeatures::Fraction(f64::NAN).count(14), 1);
    }

    #[test]
    fn binning_caps_bins_and_isolates_a_heavy_value() {
        let mut values = vec![0.0; 600];
        values.extend((0..1000).map(|i| f64::from(i) + 1.0));
        let (codes, upper, lower) = bin_column(&values, 16);
        assert_eq!(upper.len(), 16);
        assert_eq!(upper[0], 0.0);
        assert_eq!(lower[1], 1.0);
        for (value, &code) in values.iter().zip(&codes) {
            assert!(lower[code as usize] <= *value && *value <= upper[code as usize]);
        }
        // Remaining bins are about equal: 1000 values over 15 bins.
        let mut counts = vec![0usize; 16];
        for &code in &codes {
            counts[code as usize] += 1;
        }
        assert!(
            counts[1..].iter().all(|&count| (60..=70).contains(&count)),
            "{counts:?}"
        );
    }

    #[test]
    fn trees_grown_together_are_the_trees_grown_alone() {
        // Targets with ties and a heavy feature, so the trees part at many depths; bootstrap
        // weights, so multiplicities count; feature subsampling, so the draws must follow the
        // node paths and not the order nodes are grown in.
        let (x, mut y) = noisy_data(700, 6, 1.0, 31);
        for (i, value) in y.iter_mut().enumerate() {
            if i % 7 == 0 {
                *value = (*value * 2.0).round() / 2.0;
            }
        }
        let binned = BinnedMatrix::new(&x, 64);
        let target = CenteredTarget::new(&y);
        let sample: Vec<SampleRow> = (0..x.n_rows as u32)
            .filter(|row| row % 5 != 0)
            .map(|row| SampleRow::new(row, 1 + row % 3, &target))
            .collect();
        let base = TreeParams {
            max_features: MaxFeatures::Fraction(0.5),
            max_bins: 64,
            ..TreeParams::default()
        };
        let sets = vec![
            base.clone(),
            TreeParams {
                min_samples_leaf: 5,
                ..base.clone()
            },
            TreeParams {
                min_samples_leaf: 2,
                max_depth: Some(6),
                ..base.clone()
            },
            TreeParams {
                min_samples_split: 30,
                ..base.clone()
            },
        ];
        for seed in [1, 2, 3] {
            let together = grow_trees(&binned, &target, sample.clone(), &sets, seed);
            assert_eq!(together.len(), sets.len());
            for (params, tree) in sets.iter().zip(&together) {
                let alone = grow_tree(&binned, &target, sample.clone(), params, seed);
                assert_eq!(*tree, alone, "seed {seed}, {params:?}");
                check_covers(tree);
            }
            // They did part: the stopping rules give different trees.
            assert_ne!(together[0].nodes.len(), together[1].nodes.len());
            assert!(together[2].depth() <= 6);
        }
    }

    #[test]
    fn predicting_while_growing_equals_growing_then_predicting() {
        // Features with few distinct values, so evaluation rows sit exactly on training
        // values and thresholds; evaluation rows beyond the training range; trees grown
        // together, so rows part with their trees. Skipping the nodes no evaluation row
        // reaches must leave every prediction as the whole tree's.
        let (raw, y) = noisy_data(600, 5, 1.0, 41);
        let discrete = |x: &Matrix| {
            Matrix::new(
                x.n_rows,
                x.n_cols,
                x.data.iter().map(|v| (v * 3.0).round() / 2.0).collect(),
            )
        };
        let x = discrete(&raw);
        let (raw_eval, _) = noisy_data(150, 5, 1.6, 42);
        let mut x_eval = discrete(&raw_eval);
        x_eval.data.extend_from_slice(&x.data[..5 * x.n_cols]);
        x_eval.n_rows += 5;
        let binned = BinnedMatrix::new(&x, 256);
        let target = CenteredTarget::new(&y);
        let sample: Vec<SampleRow> = (0..x.n_rows as u32)
            .filter(|row| row % 4 != 1)
            .map(|row| SampleRow::new(row, 1 + row % 2, &target))
            .collect();
        let base = TreeParams {
            max_features: MaxFeatures::Sqrt,
            ..TreeParams::default()
        };
        let sets = vec![
            base.clone(),
            TreeParams {
                min_samples_leaf: 5,
                ..base.clone()
            },
            TreeParams {
                max_depth: Some(3),
                ..base.clone()
            },
        ];
        for seed in [4, 5] {
            let trees = grow_trees(&binned, &target, sample.clone(), &sets, seed);
            let predicted =
                grow_trees_predict(&binned, &target, sample.clone(), &sets, seed, &x_eval);
            for (tree, predicted) in trees.iter().zip(&predicted) {
                assert_eq!(*predicted, tree.predict(&x_eval), "seed {seed}");
            }
            assert_ne!(predicted[0], predicted[1]);
        }
        let empty = Matrix::new(0, x.n_cols, Vec::new());
        let none = grow_trees_predict(&binned, &target, sample, &sets, 4, &empty);
        assert!(none.iter().all(Vec::is_empty));
    }

    #[test]
    fn threshold_separates_adjacent_floats() {
        let a = 1.0f64;
        let b = f64::from_bits(a.to_bits() + 1);
        let x = Matrix::from_columns(&[vec![a, b, a, b]]);
        let tree = fit_tree(&x, &[0.0, 1.0, 0.0, 1.0], &TreeParams::default(), 0);
        assert_eq!(tree.predict_row(&[a]), 0.0);
        assert_eq!(tree.predict_row(&[b]), 1.0);
    }
}
