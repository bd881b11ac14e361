//! Exact path-dependent TreeSHAP for one tree and for additive ensembles of trees.
//!
//! # What is computed
//!
//! The path-dependent value of a feature set `S` (Lundberg et al. 2018, Algorithm 1) is
//! `E[f(x) | x_S]`, computed by descending the tree: at a split on a feature in `S` follow `x`,
//! at any other split take both children weighted by their share of the training cover. For a
//! leaf `ℓ` and a feature `j` split on along its path, let `A_j ∈ {0, 1}` say whether `x`
//! satisfies every `j`-split of the path, and `R_j` be the product of the cover fractions of
//! those splits. Then `E[f | x_S] = Σ_ℓ v_ℓ Π_{j ∈ S} A_j Π_{j ∉ S} R_j`, a sum of product games,
//! and the Shapley value of a product game is a Beta integral:
//!
//! `φ_i = Σ_ℓ v_ℓ (A_i − R_i) ∫₀¹ Π_{j ≠ i} ((1 − t) R_j + t A_j) dt`.
//!
//! # How (Linear TreeSHAP with Gauss–Legendre quadrature)
//!
//! Each path product `P_ℓ(t) = Π_j ((1 − t) R_j + t A_j)` is a polynomial of degree `d_ℓ`
//! (distinct features on the path), so it is carried as its values at the nodes of an `n`-point
//! Gauss–Legendre rule with `2n − 1 ≥ d_max − 1`: the integrals are then exact. One depth-first
//! pass per row multiplies the factors in on the way down, sums `v_ℓ P_ℓ` over each subtree on
//! the way up, and at each edge on feature `i` integrates that sum divided by the edge's factor;
//! leaves below a deeper split on the same feature are subtracted out (they are charged at that
//! deeper edge with their own factor). This is Linear TreeSHAP (Yu et al., NeurIPS 2022) in its
//! exact-quadrature form: cost `O(nodes × n)` per row and tree with
//! `n ≤ ⌈min(depth, features) / 2⌉`, against `O(leaves × depth²)` for Algorithm 2, and no
//! factorial weights to lose precision. The kernel itself is in [`super::path_kernel`].
//!
//! A table kernel in the manner of Fast TreeSHAP v2 (all `2^d` outcomes of each leaf tabulated
//! once per tree, then `d` look-ups per leaf and row) was measured too: at most 10 ms faster on
//! 400 trees of depth ≤ 5 over 4,338 rows, no faster at depth 6 and up to twice as slow beyond
//! (its tables outgrow the caches), so it was not kept.
//!
//! [`ensemble_shap`] compiles the trees in parallel, then walks them tree by tree over chunks of
//! rows (so a tree's tape stays in cache), [`LANES`] rows at a time. Every row gets the same
//! floating-point operations in the same order whatever the chunking or the thread count.

use rayon::prelude::*;

use super::path_kernel::{child_fractions, TreeTape, Workspace};
use super::ShapValues;
use crate::learn::matrix::Matrix;
use crate::learn::tree::Tree;

/// Rows replayed together through a tape (the vector lanes of the kernel; 8 and 16 measured
/// alike, 8 wastes less on a short last batch).
const LANES: usize = 8;

/// Row batches per parallel task: a tape is reused for this many batches while it is in cache.
const CHUNK_BATCHES: usize = 16;

/// Upper bound on the bytes of compiled trees held at once, so deep forests stay within memory.
const BLOCK_BYTES: usize = 64 << 20;

/// Expected value of a tree under its training distribution (cover-weighted mean of leaves).
///
/// Uses the same cover fractions as the SHAP kernel (see [`child_fractions`]), so that
/// `tree_expected_value + Σ φ = prediction` holds to rounding. An empty tree has value 0.
pub(crate) fn tree_expected_value(tree: &Tree) -> f64 {
    if tree.nodes.is_empty() {
        return 0.0;
    }
    let mut expected = 0.0;
    let mut stack = vec![(0usize, 1.0f64)];
    while let Some((index, weight)) = stack.pop() {
        let node = &tree.nodes[index];
        if node.is_leaf() {
            expected += weight * node.value;
        } else {
            let (left_fraction, right_fraction) = child_fractions(tree, index);
            stack.push((node.right as usize, weight * right_fraction));
            stack.push((node.left as usize, weight * left_fraction));
        }
    }
    expected
}

/// Adds `scale` × the SHAP values of `row` for `tree` into `phi` (len = n_features).
///
/// Convenient for one row; [`ensemble_shap`] is the fast path for many rows.
///
/// # Panics
/// If a split feature of the tree is outside `row` or `phi`.
#[cfg(test)]
pub(crate) fn tree_shap_row(tree: &Tree, row: &[f64], scale: f64, phi: &mut [f64]) {
    let n_features = row.len().min(phi.len());
    check_features(std::slice::from_ref(tree), n_features);
    let tape = TreeTape::build(tree);
    if tape.is_empty() {
        return;
    }
    let mut workspace = Workspace::<1>::new(tape.max_level, tape.n_points());
    let mut lane_phi = vec![[0.0]; phi.len()];
    let lane_x: Vec<[f64; 1]> = row.iter().map(|&value| [value]).collect();
    tape.replay(&lane_x, &mut lane_phi, &mut workspace);
    for (out, lane) in phi.iter_mut().zip(&lane_phi) {
        *out += scale * lane[0];
    }
}

/// SHAP for an additive ensemble: prediction = offset + scale × Σ_t tree_t(x).
///
/// A forest is (offset 0, scale 1/T), boosting is (offset base_score, scale 1), one tree (0, 1).
/// Parallel over rows with rayon; deterministic. base_value = offset + scale × Σ E[tree_t].
///
/// # Panics
/// If a split feature of some tree is not a column of `x`.
pub fn ensemble_shap(trees: &[Tree], offset: f64, scale: f64, x: &Matrix) -> ShapValues {
    let n_features = x.n_cols;
    check_features(trees, n_features);
    let expected_sum: f64 = trees.iter().map(tree_expected_value).sum();
    let mut values = vec![0.0; x.n_rows * n_features];
    let mut start = 0;
    while start < trees.len() && x.n_rows > 0 && n_features > 0 {
        // A tape takes roughly 200 bytes per node at the usual depths.
        let mut end = start;
        let mut bytes = 0;
        while end < trees.len() && (end == start || bytes < BLOCK_BYTES) {
            bytes += trees[end].nodes.len() * 200;
            end += 1;
        }
        let tapes: Vec<TreeTape> = trees[start..end]
            .par_iter()
            .map(TreeTape::build)
            .filter(|tape| !tape.is_empty())
            .collect();
        replay_block(&tapes, x, &mut values);
        start = end;
    }
    for value in &mut values {
        *value *= scale;
    }
    ShapValues {
        base_value: offset + scale * expected_sum,
        n_rows: x.n_rows,
        n_features,
        values,
    }
}

/// Adds the unscaled SHAP values of every tape into `values`: tape by tape over chunks of
/// [`CHUNK_BATCHES`] × [`LANES`] rows, one chunk per task.
fn replay_block(tapes: &[TreeTape], x: &Matrix, values: &mut [f64]) {
    let max_level = tapes.iter().map(|tape| tape.max_level).max().unwrap_or(0);
    let max_points = tapes.iter().map(TreeTape::n_points).max().unwrap_or(1);
    let n_features = x.n_cols;
    let chunk_rows = CHUNK_BATCHES * LANES;
    values
        .par_chunks_mut(chunk_rows * n_features)
        .enumerate()
        .for_each_init(
            || {
                (
                    Workspace::<LANES>::new(max_level, max_points),
                    vec![[0.0; LANES]; CHUNK_BATCHES * n_features],
                    vec![[0.0; LANES]; CHUNK_BATCHES * n_features],
                )
            },
            |(workspace, lane_x, lane_phi), (chunk, out)| {
                let first_row = chunk * chunk_rows;
                let rows_here = out.len() / n_features;
                let batches = rows_here.div_ceil(LANES);
                // Transpose each batch so a feature's lanes are contiguous; a short last batch
                // repeats its last row in the spare lanes (computed, then dropped). The lanes start
                // from the sums so far, so each row adds its trees in one fixed order.
                for batch in 0..batches {
                    let lanes_x = &mut lane_x[batch * n_features..(batch + 1) * n_features];
                    let lanes_phi = &mut lane_phi[batch * n_features..(batch + 1) * n_features];
                    for lane in 0..LANES {
                        let row = (batch * LANES + lane).min(rows_here - 1);
                        let features = x.row(first_row + row);
                        let sums = &out[row * n_features..(row + 1) * n_features];
                        for feature in 0..n_features {
                            lanes_x[feature][lane] = features[feature];
                            lanes_phi[feature][lane] = sums[feature];
                        }
                    }
                }
                for tape in tapes {
                    for batch in 0..batches {
                        tape.replay(
                            &lane_x[batch * n_features..(batch + 1) * n_features],
                            &mut lane_phi[batch * n_features..(batch + 1) * n_features],
                            workspace,
                        );
                    }
                }
                for (row, sums) in out.chunks_exact_mut(n_features).enumerate() {
                    let lanes_phi = &lane_phi[(row / LANES) * n_features..];
                    for (feature, sum) in sums.iter_mut().enumerate() {
                        *sum = lanes_phi[feature][row % LANES];
                    }
                }
            },
        );
}

/// Panics with a clear message when a tree splits on a feature the caller does not have.
fn check_features(trees: &[Tree], n_features: usize) {
    for (index, tree) in trees.iter().enumerate() {
        if let Some(node) = tree
            .nodes
            .iter()
            .find(|node| !node.is_leaf() && node.feature as usize >= n_features)
        {
            panic!(
                "tree {index} splits on feature {} but the rows have {n_features} features",
                node.feature
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::explain::check_local_accuracy;
    use crate::learn::tree::{Node, LEAF};
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// Exact Shapley values by enumerating all 2^M subsets of the M features, with the
    /// path-dependent conditional expectation `E[f | x_S]` (features in S follow the row, others
    /// split by cover fraction).
    pub(crate) fn brute_force_shap(tree: &Tree, row: &[f64]) -> Vec<f64> {
        let m = row.len();
        assert!(m <= 20, "brute force is for small feature counts");
        let conditional = |subset: usize| -> f64 {
            let mut total = CompensatedSum::default();
            let mut stack = vec![(0usize, 1.0f64)];
            while let Some((index, weight)) = stack.pop() {
                let node = &tree.nodes[index];
                if node.is_leaf() {
                    total.add(weight * node.value);
                } else if subset & (1 << node.feature) != 0 {
                    let next = if row[node.feature as usize] <= node.threshold {
                        node.left
                    } else {
                        node.right
                    };
                    stack.push((next as usize, weight));
                } else {
                    let (left, right) = child_fractions(tree, index);
                    stack.push((node.left as usize, weight * left));
                    stack.push((node.right as usize, weight * right));
                }
            }
            total.value()
        };
        let values: Vec<f64> = (0..1usize << m).map(conditional).collect();
        // Shapley weight |S|! (M − |S| − 1)! / M!.
        let factorial = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        let weight: Vec<f64> = (0..m)
            .map(|size| factorial(size) * factorial(m - size - 1) / factorial(m))
            .collect();
        // Compensated sums, so that the reference stays far more accurate than the 1e-12 the
        // tests ask for even over 2^20 terms.
        let mut phi = vec![0.0; m];
        for (i, phi_i) in phi.iter_mut().enumerate() {
            let mut sum = CompensatedSum::default();
            for subset in 0..1usize << m {
                if subset & (1 << i) == 0 {
                    let size = subset.count_ones() as usize;
                    sum.add(weight[size] * (values[subset | (1 << i)] - values[subset]));
                }
            }
            *phi_i = sum.value();
        }
        phi
    }

    /// Neumaier's compensated summation.
    #[derive(Default)]
    struct CompensatedSum {
        sum: f64,
        compensation: f64,
    }

    impl CompensatedSum {
        fn add(&mut self, value: f64) {
            let total = self.sum + value;
            self.compensation += if self.sum.abs() >= value.abs() {
                (self.sum - total) + value
            } else {
                (value - total) + self.sum
            };
            self.sum = total;
        }

        fn value(&self) -> f64 {
            self.sum + self.compensation
        }
    }

    /// A random tree: every internal node splits a random cover in two, leaf values are random,
    /// internal values are the cover-weighted mean below. A node above `depth` with cover to
    /// split splits with probability `split_probability` (1: a full tree).
    pub(crate) fn random_tree(
        rng: &mut impl Rng,
        n_features: usize,
        depth: usize,
        split_probability: f64,
        cover: f64,
    ) -> Tree {
        let mut tree = Tree { nodes: Vec::new() };
        grow(rng, &mut tree, n_features, depth, split_probability, cover);
        tree
    }

    fn grow(
        rng: &mut impl Rng,
        tree: &mut Tree,
        n_features: usize,
        depth: usize,
        split_probability: f64,
        cover: f64,
    ) -> usize {
        let index = tree.nodes.len();
        tree.nodes.push(Node {
            feature: 0,
            threshold: 0.0,
            left: LEAF,
            right: LEAF,
            value: rng.gen_range(-1.0..1.0),
            cover,
            gain: 0.0,
        });
        let split = depth > 0 && cover >= 2.0 && rng.gen_bool(split_probability);
        if split {
            let left_cover = rng.gen_range(1..cover as u64) as f64;
            let right_cover = cover - left_cover;
            let left = grow(
                rng,
                tree,
                n_features,
                depth - 1,
                split_probability,
                left_cover,
            );
            let right = grow(
                rng,
                tree,
                n_features,
                depth - 1,
                split_probability,
                right_cover,
            );
            let value = (left_cover * tree.nodes[left].value
                + right_cover * tree.nodes[right].value)
                / cover;
            let node = &mut tree.nodes[index];
            node.feature = rng.gen_range(0..n_features as u32);
            node.threshold = rng.gen_range(-1.0..1.0);
            node.left = left as u32;
            node.right = right as u32;
            node.value = value;
            node.gain = 1.0;
        }
        index
    }

    fn random_rows(rng: &mut impl Rng, n_rows: usize, n_features: usize) -> Matrix {
        Matrix::new(
            n_rows,
            n_features,
            (0..n_rows * n_features)
                .map(|_| rng.gen_range(-1.2..1.2))
                .collect(),
        )
    }

    /// Checks `tree_shap_row` (one lane) and `ensemble_shap` (a batch of lanes) against brute
    /// force on the rows of `x`.
    fn check_against_brute_force(tree: &Tree, x: &Matrix, context: &str) {
        let batch = ensemble_shap(std::slice::from_ref(tree), 0.0, 1.0, x);
        for i in 0..x.n_rows {
            let expected = brute_force_shap(tree, x.row(i));
            let mut phi = vec![0.0; x.n_cols];
            tree_shap_row(tree, x.row(i), 1.0, &mut phi);
            assert_close(
                &phi,
                &expected,
                1e-12,
                &format!("{context} row {i} (one row)"),
            );
            assert_close(
                batch.row(i),
                &expected,
                1e-12,
                &format!("{context} row {i} (batch)"),
            );
        }
    }

    fn assert_close(actual: &[f64], expected: &[f64], tol: f64, context: &str) {
        assert_eq!(actual.len(), expected.len());
        for (j, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (a - e).abs() <= tol,
                "{context}: feature {j}: {a} vs {e} (diff {})",
                a - e
            );
        }
    }

    #[test]
    fn matches_brute_force_on_random_trees() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for case in 0..300 {
            let n_features = rng.gen_range(1..=8);
            let depth = rng.gen_range(1..=8);
            let split_probability = if rng.gen_bool(0.3) { 1.0 } else { 0.8 };
            let tree = random_tree(&mut rng, n_features, depth, split_probability, 1000.0);
            let x = random_rows(&mut rng, 4, n_features);
            check_against_brute_force(&tree, &x, &format!("case {case}"));
        }
    }

    #[test]
    fn repeated_features_along_a_path_match_brute_force() {
        // Two features only, depth 8: every path repeats features many times.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        for case in 0..100 {
            let n_features = rng.gen_range(1..=2);
            let tree = random_tree(&mut rng, n_features, 8, 1.0, 5000.0);
            let x = random_rows(&mut rng, 3, n_features);
            check_against_brute_force(&tree, &x, &format!("case {case}"));
        }
    }

    #[test]
    fn hand_computed_two_feature_tree() {
        // x0 <= 0 ? (x1 <= 0 ? 1 : 3) : 10, every split halving the cover. For x = (−1, −1):
        // E[f] = 6, E[f | x0] = 2, E[f | x1] = 5.5, f = 1, so
        // φ0 = ((2 − 6) + (1 − 5.5)) / 2 = −4.25 and φ1 = ((5.5 − 6) + (1 − 2)) / 2 = −0.75.
        let node = |feature, left, right, value, cover| Node {
            feature,
            threshold: 0.0,
            left,
            right,
            value,
            cover,
            gain: 0.0,
        };
        let tree = Tree {
            nodes: vec![
                node(0, 1, 2, 6.0, 4.0),
                node(1, 3, 4, 2.0, 2.0),
                node(0, LEAF, LEAF, 10.0, 2.0),
                node(0, LEAF, LEAF, 1.0, 1.0),
                node(0, LEAF, LEAF, 3.0, 1.0),
            ],
        };
        let row = [-1.0, -1.0];
        assert_close(
            &brute_force_shap(&tree, &row),
            &[-4.25, -0.75],
            1e-15,
            "brute force",
        );
        let mut phi = vec![0.0; 2];
        tree_shap_row(&tree, &row, 1.0, &mut phi);
        assert_close(&phi, &[-4.25, -0.75], 1e-14, "treeshap");
        assert_eq!(tree_expected_value(&tree), 6.0);
    }

    #[test]
    fn deep_trees_match_brute_force() {
        // Depth well beyond 8 with few features: long paths with many repeated features and
        // tiny cover fractions.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
        let mut deepest = 0;
        for case in 0..30 {
            let n_features = rng.gen_range(3..=7);
            let tree = random_tree(&mut rng, n_features, 40, 0.6, 1e7);
            deepest = deepest.max(tree.depth());
            let x = random_rows(&mut rng, 3, n_features);
            check_against_brute_force(&tree, &x, &format!("deep case {case}"));
        }
        assert!(deepest >= 20, "deepest tree only {deepest}");
    }

    /// A "caterpillar": a path of `length` splits, each on a fresh feature (then a couple of
    /// repeats), with a leaf hanging off every split, so one path has `length` distinct features.
    fn caterpillar(rng: &mut impl Rng, length: usize) -> Tree {
        let mut tree = Tree { nodes: Vec::new() };
        let mut cover: f64 = 1e6;
        let mut parent: Option<(usize, bool)> = None;
        let features: Vec<u32> = (0..length as u32).chain([0, 1]).collect();
        for &feature in &features {
            let index = tree.nodes.len();
            let leaf_cover = (cover * rng.gen_range(0.05..0.5)).round();
            tree.nodes.push(Node {
                feature,
                threshold: rng.gen_range(-1.0..1.0),
                left: LEAF,
                right: LEAF,
                value: 0.0,
                cover,
                gain: 1.0,
            });
            tree.nodes.push(Node {
                feature: 0,
                threshold: 0.0,
                left: LEAF,
                right: LEAF,
                value: rng.gen_range(-1.0..1.0),
                cover: leaf_cover,
                gain: 0.0,
            });
            if let Some((parent, continue_left)) = parent {
                if continue_left {
                    tree.nodes[parent].left = index as u32;
                } else {
                    tree.nodes[parent].right = index as u32;
                }
            }
            let continue_left = rng.gen_bool(0.5);
            let node = &mut tree.nodes[index];
            if continue_left {
                node.right = index as u32 + 1;
            } else {
                node.left = index as u32 + 1;
            }
            parent = Some((index, continue_left));
            cover -= leaf_cover;
        }
        // The last split's open side ends in a leaf.
        if let Some((parent, continue_left)) = parent {
            let index = tree.nodes.len() as u32;
            tree.nodes.push(Node {
                feature: 0,
                threshold: 0.0,
                left: LEAF,
                right: LEAF,
                value: rng.gen_range(-1.0..1.0),
                cover,
                gain: 0.0,
            });
            if continue_left {
                tree.nodes[parent].left = index;
            } else {
                tree.nodes[parent].right = index;
            }
        }
        tree
    }

    #[test]
    fn many_distinct_features_on_a_path_match_brute_force() {
        // 10, 14 and 18 distinct features need 5, 7 and 9 quadrature points: the unrolled
        // kernels for larger counts and the generic one beyond 8.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
        for length in [10, 14, 18] {
            let tree = caterpillar(&mut rng, length);
            assert_eq!(TreeTape::build(&tree).n_points(), length.div_ceil(2));
            let x = random_rows(&mut rng, 2, length);
            check_against_brute_force(&tree, &x, &format!("caterpillar {length}"));
        }
    }

    #[test]
    fn the_same_feature_twice_in_a_row() {
        // x0 <= 0 then x0 <= -0.5 on the left: a hand-checkable repeated split.
        let leaf = |value: f64, cover: f64| Node {
            feature: 0,
            threshold: 0.0,
            left: LEAF,
            right: LEAF,
            value,
            cover,
            gain: 0.0,
        };
        let tree = Tree {
            nodes: vec![
                Node {
                    feature: 0,
                    threshold: 0.0,
                    left: 1,
                    right: 2,
                    value: 0.0,
                    cover: 4.0,
                    gain: 1.0,
                },
                Node {
                    feature: 0,
                    threshold: -0.5,
                    left: 3,
                    right: 4,
                    value: 0.0,
                    cover: 2.0,
                    gain: 1.0,
                },
                leaf(3.0, 2.0),
                leaf(-1.0, 1.0),
                leaf(1.0, 1.0),
            ],
        };
        // One feature: φ₀ = f(x) − E[f]. E[f] = (−1 + 1 + 6) / 4 = 1.5.
        assert!((tree_expected_value(&tree) - 1.5).abs() < 1e-15);
        for (x0, prediction) in [(-1.0, -1.0), (-0.2, 1.0), (0.5, 3.0)] {
            let mut phi = vec![0.0];
            tree_shap_row(&tree, &[x0], 1.0, &mut phi);
            assert!(
                (phi[0] - (prediction - 1.5)).abs() < 1e-14,
                "x0={x0}: {}",
                phi[0]
            );
        }
    }

    #[test]
    fn single_leaf_tree_has_zero_shap() {
        let tree = Tree {
            nodes: vec![Node {
                feature: 0,
                threshold: 0.0,
                left: LEAF,
                right: LEAF,
                value: 2.5,
                cover: 10.0,
                gain: 0.0,
            }],
        };
        let mut phi = vec![0.0; 3];
        tree_shap_row(&tree, &[1.0, 2.0, 3.0], 1.0, &mut phi);
        assert_eq!(phi, vec![0.0; 3]);
        assert_eq!(tree_expected_value(&tree), 2.5);
        let x = Matrix::new(2, 3, vec![0.0; 6]);
        let shap = ensemble_shap(std::slice::from_ref(&tree), 0.0, 1.0, &x);
        assert_eq!(shap.base_value, 2.5);
        assert_eq!(shap.values, vec![0.0; 6]);
    }

    #[test]
    fn empty_tree_contributes_nothing() {
        let tree = Tree { nodes: Vec::new() };
        assert_eq!(tree_expected_value(&tree), 0.0);
        let mut phi = vec![0.0; 2];
        tree_shap_row(&tree, &[1.0, 2.0], 1.0, &mut phi);
        assert_eq!(phi, vec![0.0; 2]);
    }

    #[test]
    fn scale_multiplies_and_adds_into_phi() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let tree = random_tree(&mut rng, 4, 5, 0.8, 300.0);
        let row = [0.1, -0.3, 0.7, 0.0];
        let expected = brute_force_shap(&tree, &row);
        let mut phi = vec![1.0; 4];
        tree_shap_row(&tree, &row, -2.0, &mut phi);
        let wanted: Vec<f64> = expected.iter().map(|v| 1.0 - 2.0 * v).collect();
        assert_close(&phi, &wanted, 1e-12, "scaled");
    }

    #[test]
    fn zero_cover_children_stay_finite_and_exact() {
        // A split whose left child never saw training data: its fraction is 0.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        for case in 0..50 {
            let mut tree = random_tree(&mut rng, 3, 5, 1.0, 64.0);
            // Zero the cover of a random subtree (and everything below it).
            let internal: Vec<usize> = (0..tree.nodes.len())
                .filter(|&i| !tree.nodes[i].is_leaf())
                .collect();
            let parent = internal[rng.gen_range(0..internal.len())];
            let mut stack = vec![tree.nodes[parent].left as usize];
            while let Some(i) = stack.pop() {
                tree.nodes[i].cover = 0.0;
                if !tree.nodes[i].is_leaf() {
                    stack.push(tree.nodes[i].left as usize);
                    stack.push(tree.nodes[i].right as usize);
                }
            }
            let x = random_rows(&mut rng, 5, 3);
            check_against_brute_force(&tree, &x, &format!("zero cover case {case}"));
        }
    }

    #[test]
    fn ensembles_match_brute_force_sums() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(19);
        let n_features = 6;
        let trees: Vec<Tree> = (0..25)
            .map(|_| random_tree(&mut rng, n_features, 6, 0.8, 500.0))
            .collect();
        // Rows not a multiple of the lane count nor of the chunk, to exercise short batches.
        let x = random_rows(&mut rng, CHUNK_BATCHES * LANES + 2 * LANES + 3, n_features);
        for (offset, scale) in [(0.0, 1.0 / 25.0), (0.37, 1.0), (-1.0, 0.5)] {
            let shap = ensemble_shap(&trees, offset, scale, &x);
            let expected_base = offset + scale * trees.iter().map(tree_expected_value).sum::<f64>();
            assert!((shap.base_value - expected_base).abs() < 1e-12);
            for i in 0..x.n_rows {
                let mut expected = vec![0.0; n_features];
                for tree in &trees {
                    for (e, b) in expected.iter_mut().zip(brute_force_shap(tree, x.row(i))) {
                        *e += scale * b;
                    }
                }
                let got = &shap.values[i * n_features..(i + 1) * n_features];
                assert_close(got, &expected, 1e-12, &format!("row {i}"));
            }
            let predictions: Vec<f64> = (0..x.n_rows)
                .map(|i| {
                    offset + scale * trees.iter().map(|t| t.predict_row(x.row(i))).sum::<f64>()
                })
                .collect();
            check_local_accuracy(&shap, &predictions, 1e-9).expect("local accuracy");
        }
    }

    #[test]
    fn local_accuracy_on_deep_random_forest() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(23);
        let n_features = 14;
        let trees: Vec<Tree> = (0..20)
            .map(|_| random_tree(&mut rng, n_features, 25, 0.8, 4000.0))
            .collect();
        assert!(
            trees.iter().any(|t| t.depth() >= 15),
            "want some deep trees"
        );
        let x = random_rows(&mut rng, 200, n_features);
        let scale = 1.0 / trees.len() as f64;
        let shap = ensemble_shap(&trees, 0.0, scale, &x);
        let predictions: Vec<f64> = (0..x.n_rows)
            .map(|i| scale * trees.iter().map(|t| t.predict_row(x.row(i))).sum::<f64>())
            .collect();
        check_local_accuracy(&shap, &predictions, 1e-9).expect("local accuracy");
    }

    #[test]
    fn ensemble_equals_per_row_calls() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(29);
        let trees: Vec<Tree> = (0..10)
            .map(|_| random_tree(&mut rng, 5, 7, 0.8, 200.0))
            .collect();
        let x = random_rows(&mut rng, 11, 5);
        let shap = ensemble_shap(&trees, 0.0, 1.0, &x);
        for i in 0..x.n_rows {
            let mut phi = vec![0.0; 5];
            for tree in &trees {
                tree_shap_row(tree, x.row(i), 1.0, &mut phi);
            }
            // Same kernel, one lane instead of eight; only the order of additions differs.
            assert_close(&shap.values[i * 5..(i + 1) * 5], &phi, 1e-13, "per row");
        }
    }

    #[test]
    fn deterministic_across_thread_counts() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(31);
        // Shallow and deep trees (different point counts); more rows than one chunk.
        let trees: Vec<Tree> = (0..30)
            .map(|i| random_tree(&mut rng, 8, if i % 2 == 0 { 4 } else { 10 }, 0.8, 1000.0))
            .collect();
        let x = random_rows(&mut rng, 3 * CHUNK_BATCHES * LANES + 7, 8);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool")
                .install(|| ensemble_shap(&trees, 0.1, 1.0 / 30.0, &x))
        };
        let one = run(1);
        for threads in [2, 3, 7] {
            let many = run(threads);
            assert_eq!(one.base_value.to_bits(), many.base_value.to_bits());
            assert!(one
                .values
                .iter()
                .zip(&many.values)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn empty_inputs() {
        let x = Matrix::new(0, 3, Vec::new());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let tree = random_tree(&mut rng, 3, 3, 1.0, 10.0);
        let shap = ensemble_shap(std::slice::from_ref(&tree), 0.0, 1.0, &x);
        assert_eq!((shap.n_rows, shap.n_features, shap.values.len()), (0, 3, 0));
        let x = Matrix::new(2, 3, vec![0.0; 6]);
        let shap = ensemble_shap(&[], 1.5, 1.0, &x);
        assert_eq!(shap.base_value, 1.5);
        assert_eq!(shap.values, vec![0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "splits on feature 5")]
    fn feature_out_of_range_panics_with_a_message() {
        let mut tree = Tree {
            nodes: vec![
                Node {
                    feature: 5,
                    threshold: 0.0,
                    left: 1,
                    right: 2,
                    value: 0.0,
                    cover: 2.0,
                    gain: 1.0,
                },
                Node {
                    feature: 0,
                    threshold: 0.0,
                    left: LEAF,
                    right: LEAF,
                    value: 1.0,
                    cover: 1.0,
                    gain: 0.0,
                },
                Node {
                    feature: 0,
                    threshold: 0.0,
                    left: LEAF,
                    right: LEAF,
                    value: -1.0,
                    cover: 1.0,
                    gain: 0.0,
                },
            ],
        };
        tree.nodes[0].feature = 5;
        let x = Matrix::new(1, 3, vec![0.0; 3]);
        let _ = ensemble_shap(&[tree], 0.0, 1.0, &x);
    }
}
