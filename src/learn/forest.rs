//! Random forests of CART regression trees: bootstrap rows, features drawn per split, trees
//! grown in parallel; the prediction is the mean of the trees.
//!
//! Features are binned once for the whole forest. Tree `i` takes its random numbers from a seed
//! derived from the forest seed and `i` alone, so the forest is identical whatever the number of
//! threads. A bootstrap sample is grown as its distinct rows weighted by multiplicity, so each
//! node's `cover` is the bootstrap weight that reached it (the root's is the row count).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cart::{
    derive_seed, grow_trees, grow_trees_predict, BinnedMatrix, CenteredTarget, SampleRow,
    TreeParams,
};
use super::matrix::Matrix;
use super::tree::Tree;

/// Hyper-parameters of a random forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Parameters of every tree (`max_features` is drawn per split).
    pub tree: TreeParams,
    /// Grow each tree on a bootstrap sample (`n` draws with replacement) instead of all rows.
    pub bootstrap: bool,
}

impl Default for ForestParams {
    /// scikit-learn's regressor defaults except 300 trees and half the features per split.
    fn default() -> Self {
        Self {
            n_trees: 300,
            tree: TreeParams {
                max_features: super::cart::MaxFeatures::Fraction(0.5),
                ..TreeParams::default()
            },
            bootstrap: true,
        }
    }
}

/// A fitted random forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub trees: Vec<Tree>,
}

/// Fits a random forest on all rows of `x`. Panics if `y.len() != x.n_rows`.
pub fn fit_forest(x: &Matrix, y: &[f64], params: &ForestParams, seed: u64) -> Forest {
    assert_eq!(x.n_rows, y.len(), "one target per row is required");
    let binned = BinnedMatrix::new(x, params.tree.max_bins);
    let target = CenteredTarget::new(y);
    let tree_params = std::slice::from_ref(&params.tree);
    let trees = (0..params.n_trees)
        .into_par_iter()
        .map(|tree_index| {
            grow_forest_trees(&binned, &target, params, tree_params, seed, tree_index)
                .pop()
                .expect("one tree")
        })
        .collect();
    Forest { trees }
}

/// True when forests of `a` and `b` can be grown together by [`fit_forests_predict`]: they
/// differ at most in their trees' stopping rules.
pub(crate) fn can_grow_together(a: &ForestParams, b: &ForestParams) -> bool {
    a.n_trees == b.n_trees
        && a.bootstrap == b.bootstrap
        && a.tree.max_features == b.tree.max_features
        && a.tree.max_bins == b.tree.max_bins
}

/// Tree `tree_index` of a forest — its own random stream, its bootstrap sample, then the
/// tree — once per parameter set in `tree_params` (grown together, see
/// [`super::cart::grow_trees`]).
fn grow_forest_trees(
    binned: &BinnedMatrix,
    target: &CenteredTarget,
    params: &ForestParams,
    tree_params: &[TreeParams],
    seed: u64,
    tree_index: usize,
) -> Vec<Tree> {
    let (sample, node_seed) = tree_sample(binned, target, params, seed, tree_index);
    grow_trees(binned, target, sample, tree_params, node_seed)
}

/// Tree `tree_index`'s rows (its bootstrap sample, or all rows) and the seed of its nodes'
/// feature draws, both from the tree's own random stream.
fn tree_sample(
    binned: &BinnedMatrix,
    target: &CenteredTarget,
    params: &ForestParams,
    seed: u64,
    tree_index: usize,
) -> (Vec<SampleRow>, u64) {
    let n_rows = binned.n_rows;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, tree_index as u64));
    let sample = if params.bootstrap {
        bootstrap_sample(n_rows, target, &mut rng)
    } else {
        (0..n_rows as u32)
            .map(|row| SampleRow::new(row, 1, target))
            .collect()
    };
    (sample, rng.gen())
}

/// The mean prediction on `x_eval` of the forest [`fit_forest`] would fit — the same numbers
/// as `fit_forest(x, y, params, seed).predict(x_eval)` — without keeping the forest: each tree
/// predicts `x_eval` as soon as it is grown and is dropped. Cross-validation needs only the
/// predictions, and 300 unlimited-depth trees on 70,000 rows are over a GB of nodes.
pub(crate) fn fit_forest_predict(
    x: &Matrix,
    y: &[f64],
    params: &ForestParams,
    seed: u64,
    x_eval: &Matrix,
) -> Vec<f64> {
    fit_forests_predict(x, y, std::slice::from_ref(params), seed, x_eval)
        .pop()
        .expect("one forest")
}

/// [`fit_forest_predict`] for several forests that differ only in their trees' stopping rules
/// (`max_depth`, `min_samples_leaf`, `min_samples_split`; see [`can_grow_together`]): tree `i`
/// of every forest is grown in one pass, sharing the work while the trees agree. Returns one
/// prediction vector per forest, the same numbers as fitting each alone. Panics when the
/// forests cannot be grown together or there are more than 4.
pub(crate) fn fit_forests_predict(
    x: &Matrix,
    y: &[f64],
    forests: &[ForestParams],
    seed: u64,
    x_eval: &Matrix,
) -> Vec<Vec<f64>> {
    assert_eq!(x.n_rows, y.len(), "one target per row is required");
    let Some(first) = forests.first() else {
        return Vec::new();
    };
    assert!(
        forests.iter().all(|f| can_grow_together(first, f)),
        "forests grown together differ only in their stopping rules"
    );
    if first.n_trees == 0 {
        return vec![vec![0.0; x_eval.n_rows]; forests.len()];
    }
    let binned = BinnedMatrix::new(x, first.tree.max_bins);
    let target = CenteredTarget::new(y);
    let tree_params: Vec<TreeParams> = forests.iter().map(|f| f.tree.clone()).collect();
    // Per tree, per forest: the tree's predictions (only the parts of each tree that `x_eval`
    // reaches are grown; see `grow_trees_predict`).
    let per_tree: Vec<Vec<Vec<f64>>> = (0..first.n_trees)
        .into_par_iter()
        .map(|tree_index| {
            let (sample, node_seed) = tree_sample(&binned, &target, first, seed, tree_index);
            grow_trees_predict(&binned, &target, sample, &tree_params, node_seed, x_eval)
        })
        .collect();
    // Summed from 0.0 in tree order, as `sum_trees` sums a kept forest.
    let n_trees = first.n_trees as f64;
    (0..forests.len())
        .map(|f| {
            (0..x_eval.n_rows)
                .map(|i| per_tree.iter().fold(0.0, |sum, values| sum + values[f][i]) / n_trees)
                .collect()
        })
        .collect()
}

/// `n_rows` draws with replacement, returned as the distinct rows drawn (ascending) weighted by
/// how often each was drawn.
fn bootstrap_sample(
    n_rows: usize,
    target: &CenteredTarget,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<SampleRow> {
    let mut counts = vec![0u32; n_rows];
    for _ in 0..n_rows {
        counts[rng.gen_range(0..n_rows)] += 1;
    }
    counts
        .iter()
        .enumerate()
        .filter(|(_, &count)| count > 0)
        .map(|(row, &count)| SampleRow::new(row as u32, count, target))
        .collect()
}

impl Forest {
    /// Mean prediction of the trees for one row (0 for a forest without trees).
    #[cfg(test)]
    pub(crate) fn predict_row(&self, row: &[f64]) -> f64 {
        if self.trees.is_empty() {
            return 0.0;
        }
        crate::learn::tree::sum_trees_row(&self.trees, row) / self.trees.len() as f64
    }

    /// Predictions for every row of `x` (tree by tree over blocks of rows; same numbers as
    /// `predict_row`).
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        if self.trees.is_empty() {
            return vec![0.0; x.n_rows];
        }
        let n_trees = self.trees.len() as f64;
        crate::learn::tree::sum_trees(&self.trees, x)
            .into_iter()
            .map(|sum| sum / n_trees)
            .collect()
    }

    /// Impurity importance per feature: each tree's split gains, normalised to sum 1 per tree,
    /// averaged over trees (scikit-learn's `feature_importances_`).
    #[cfg(test)]
    pub(crate) fn impurity_importance(&self, n_features: usize) -> Vec<f64> {
        let mut total = vec![0.0; n_features];
        for tree in &self.trees {
            let mut per_tree = vec![0.0; n_features];
            tree.add_impurity_importance(&mut per_tree);
            let sum: f64 = per_tree.iter().sum();
            if sum > 0.0 {
                for (total, value) in total.iter_mut().zip(&per_tree) {
                    *total += value / sum;
                }
            }
        }
        let sum: f64 = total.iter().sum();
        if sum > 0.0 {
            total.iter_mut().for_each(|value| *value /= sum);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::super::cart::test_support::{check_covers, noisy_data};
    use super::super::cart::{fit_tree, MaxFeatures};
    use super::*;

    fn rmse(predictions: &[f64], truth: &[f64]) -> f64 {
        let sum: f64 = predictions
            .iter()
            .zip(truth)
            .map(|(p, t)| (p - t).powi(2))
            .sum();
        (sum / truth.len() as f64).sqrt()
    }

    fn small_params(n_trees: usize) -> ForestParams {
        ForestParams {
            n_trees,
            ..ForestParams::default()
        }
    }

    #[test]
    fn forest_beats_a_single_deep_tree_on_noisy_data() {
        let (x, y) = noisy_data(1000, 6, 2.0, 11);
        let (x_test, y_test) = noisy_data(2000, 6, 0.0, 12);
        let tree = fit_tree(&x, &y, &TreeParams::default(), 0);
        let forest = fit_forest(&x, &y, &small_params(100), 0);
        let tree_rmse = rmse(&tree.predict(&x_test), &y_test);
        let forest_rmse = rmse(&forest.predict(&x_test), &y_test);
        assert!(
            forest_rmse < 0.75 * tree_rmse,
            "forest {forest_rmse} vs tree {tree_rmse}"
        );
    }

    #[test]
    fn bootstrap_covers_count_multiplicity() {
        let (x, y) = noisy_data(300, 4, 1.0, 2);
        let forest = fit_forest(&x, &y, &small_params(10), 5);
        for tree in &forest.trees {
            assert_eq!(tree.nodes[0].cover, 300.0);
            check_covers(tree);
        }
        // Bootstrap trees differ from each other.
        assert_ne!(forest.trees[0], forest.trees[1]);
    }

    #[test]
    fn without_bootstrap_and_all_features_every_tree_is_the_single_tree() {
        let (x, y) = noisy_data(200, 3, 1.0, 4);
        let tree_params = TreeParams {
            max_features: MaxFeatures::All,
            ..TreeParams::default()
        };
        let params = ForestParams {
            n_trees: 3,
            tree: tree_params.clone(),
            bootstrap: false,
        };
        let forest = fit_forest(&x, &y, &params, 9);
        let tree = fit_tree(&x, &y, &tree_params, 0);
        assert!(forest.trees.iter().all(|forest_tree| *forest_tree == tree));
    }

    #[test]
    fn min_samples_leaf_counts_distinct_rows_in_bootstrap_trees() {
        let (x, y) = noisy_data(300, 4, 1.0, 6);
        let mut params = small_params(5);
        params.tree.min_samples_leaf = 5;
        let forest = fit_forest(&x, &y, &params, 1);
        for tree in &forest.trees {
            // A leaf holds at least 5 distinct rows, so its bootstrap weight is at least 5.
            assert!(tree
                .nodes
                .iter()
                .filter(|node| node.is_leaf())
                .all(|node| node.cover >= 5.0));
        }
    }

    #[test]
    fn identical_whatever_the_thread_count() {
        let (x, y) = noisy_data(500, 5, 1.0, 8);
        let params = small_params(16);
        let fit_with = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool")
                .install(|| fit_forest(&x, &y, &params, 42))
        };
        let one = fit_with(1);
        let two = fit_with(2);
        assert_eq!(one, two);
        assert_ne!(one, fit_forest(&x, &y, &params, 43));
    }

    #[test]
    fn json_round_trip_keeps_predictions() {
        let (x, y) = noisy_data(200, 4, 1.0, 3);
        let forest = fit_forest(&x, &y, &small_params(8), 0);
        let json = serde_json::to_string(&forest).expect("serialise");
        let back: Forest = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, forest);
        assert_eq!(back.predict(&x), forest.predict(&x));
    }

    #[test]
    fn predicting_while_growing_equals_the_kept_forest() {
        let (x, y) = noisy_data(400, 5, 1.0, 21);
        let (x_eval, _) = noisy_data(123, 5, 1.0, 22);
        let params = small_params(12);
        let kept = fit_forest(&x, &y, &params, 7).predict(&x_eval);
        assert_eq!(fit_forest_predict(&x, &y, &params, 7, &x_eval), kept);
        let none = ForestParams {
            n_trees: 0,
            ..params
        };
        assert_eq!(
            fit_forest_predict(&x, &y, &none, 7, &x_eval),
            vec![0.0; 123]
        );
    }

    #[test]
    fn forests_grown_together_predict_as_forests_grown_alone() {
        let (x, y) = noisy_data(400, 5, 1.0, 23);
        let (x_eval, _) = noisy_data(97, 5, 1.0, 24);
        let base = small_params(10);
        let forests: Vec<ForestParams> = [(1, None), (5, None), (1, Some(4))]
            .into_iter()
            .map(|(min_samples_leaf, max_depth)| ForestParams {
                tree: TreeParams {
                    min_samples_leaf,
                    max_depth,
                    ..base.tree.clone()
                },
                ..base.clone()
            })
            .collect();
        let together = fit_forests_predict(&x, &y, &forests, 3, &x_eval);
        for (params, predicted) in forests.iter().zip(&together) {
            assert_eq!(*predicted, fit_forest(&x, &y, params, 3).predict(&x_eval));
        }
        assert_ne!(together[0], together[1]);
        assert!(!can_grow_together(
            &base,
            &ForestParams {
                n_trees: 11,
                ..base.clone()
            }
        ));
    }

    #[test]
    fn empty_forest_predicts_zero() {
        let forest = Forest { trees: Vec::new() };
        assert_eq!(forest.predict_row(&[1.0]), 0.0);
    }

    #[test]
    fn importance_finds_the_informative_features() {
        let (x, y) = noisy_data(800, 6, 0.5, 13);
        let forest = fit_forest(&x, &y, &small_params(30), 0);
        let importance = forest.impurity_importance(6);
        assert!((importance.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // Features 4 and 5 are pure noise in Friedman #1.
        assert!(importance[3] > 3.0 * importance[4] && importance[3] > 3.0 * importance[5]);
    }
}
