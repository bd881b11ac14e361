//! The one tree representation shared by the decision tree, the random forest, gradient
//! boosting and TreeSHAP.
//!
//! A tree is a flat vector of nodes; node 0 is the root. An internal node sends a row left when
//! `row[feature] <= threshold`, else right. Every node carries its prediction `value` and its
//! `cover` (the training weight that reached it: the sample count for a tree or forest, with
//! bootstrap multiplicity; the hessian sum for boosting, which equals the row count under
//! squared loss), which is what path-dependent TreeSHAP needs.

use serde::{Deserialize, Serialize};

use super::matrix::Matrix;

/// Marks "no child": a node whose `left` is `LEAF` is a leaf.
pub(crate) const LEAF: u32 = u32::MAX;

/// One node of a regression tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Split feature (column index); meaningless for a leaf.
    pub feature: u32,
    /// Rows with `row[feature] <= threshold` go left.
    pub threshold: f64,
    /// Index of the left child, or [`LEAF`].
    pub left: u32,
    /// Index of the right child, or [`LEAF`].
    pub right: u32,
    /// Prediction at this node (the leaf output for leaves; for internal nodes the
    /// cover-weighted mean of the leaves below, as in training).
    pub value: f64,
    /// Training weight that reached this node.
    pub cover: f64,
    /// Weighted impurity decrease (squared-error reduction, or boosting gain) of this split;
    /// 0 for leaves. Summed per feature it gives impurity importance.
    pub gain: f64,
}

impl Node {
    /// True when the node has no children.
    #[inline]
    pub(crate) fn is_leaf(&self) -> bool {
        self.left == LEAF
    }
}

/// A regression tree: `nodes[0]` is the root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The leaf value reached by `row`.
    #[inline]
    pub(crate) fn predict_row(&self, row: &[f64]) -> f64 {
        let mut index = 0usize;
        loop {
            let node = &self.nodes[index];
            if node.is_leaf() {
                return node.value;
            }
            index = if row[node.feature as usize] <= node.threshold {
                node.left as usize
            } else {
                node.right as usize
            };
        }
    }

    /// Predictions for every row of `x`.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        (0..x.n_rows).map(|i| self.predict_row(x.row(i))).collect()
    }

    /// Depth of the deepest leaf (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        fn walk(tree: &Tree, index: usize) -> usize {
            let node = &tree.nodes[index];
            if node.is_leaf() {
                0
            } else {
                1 + walk(tree, node.left as usize).max(walk(tree, node.right as usize))
            }
        }
        if self.nodes.is_empty() {
            0
        } else {
            walk(self, 0)
        }
    }

    /// Number of leaves.
    #[cfg(test)]
    pub(crate) fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|node| node.is_leaf()).count()
    }

    /// Checks the structure a walk relies on, for trees read from a file: at least one node,
    /// every child index after its parent's and inside the tree (so every walk ends), every
    /// split feature below `n_features`, no NaN threshold and finite values and covers.
    pub fn check(&self, n_features: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("a tree has no nodes".into());
        }
        let n = self.nodes.len();
        for (index, node) in self.nodes.iter().enumerate() {
            if !node.value.is_finite() || !node.cover.is_finite() {
                return Err(format!("node {index} has a non-finite value or cover"));
            }
            if node.is_leaf() {
                if node.right != LEAF {
                    return Err(format!("node {index} has a right child but no left one"));
                }
                continue;
            }
            let (left, right) = (node.left as usize, node.right as usize);
            if left <= index || right <= index || left >= n || right >= n || left == right {
                return Err(format!(
                    "node {index} has children {left} and {right}, outside {}..{n}",
                    index + 1
                ));
            }
            if node.feature as usize >= n_features {
                return Err(format!(
                    "node {index} splits on feature {} of {n_features}",
                    node.feature
                ));
            }
            if node.threshold.is_nan() {
                return Err(format!("node {index} has a NaN threshold"));
            }
        }
        Ok(())
    }

    /// Adds each split's `gain` to `importance[feature]`.
    pub(crate) fn add_impurity_importance(&self, importance: &mut [f64]) {
        for node in &self.nodes {
            if !node.is_leaf() {
                importance[node.feature as usize] += node.gain;
            }
        }
    }
}

/// Rows per block in [`sum_trees`]: a block's rows stay in cache while every tree visits them.
const SUM_BLOCK_ROWS: usize = 256;

/// A node packed for prediction: 16 bytes instead of a [`Node`]'s 48, so three times as many
/// stay in cache. A leaf has `feature == LEAF` and its value in `threshold`; an internal node's
/// children sit side by side at `left` and `left + 1`.
#[derive(Clone, Copy)]
struct PackedNode {
    threshold: f64,
    feature: u32,
    left: u32,
}

/// A tree's nodes packed for prediction. Trees grown here already keep siblings side by side
/// and are packed in their own order; any other tree (say, an edited model file) is renumbered
/// breadth-first so that siblings become adjacent.
fn pack(tree: &Tree) -> Vec<PackedNode> {
    // A node packed with its left child at `left` (unused for a leaf).
    let packed_node = |node: &Node, left: u32| {
        if node.is_leaf() {
            PackedNode {
                threshold: node.value,
                feature: LEAF,
                left: 0,
            }
        } else {
            PackedNode {
                threshold: node.threshold,
                feature: node.feature,
                left,
            }
        }
    };
    let adjacent = tree
        .nodes
        .iter()
        .all(|node| node.is_leaf() || node.right == node.left.wrapping_add(1));
    if adjacent {
        return tree
            .nodes
            .iter()
            .map(|node| packed_node(node, node.left))
            .collect();
    }
    let mut packed = Vec::with_capacity(tree.nodes.len());
    let mut queue = std::collections::VecDeque::new();
    if !tree.nodes.is_empty() {
        queue.push_back(0usize);
    }
    // `packed[k]` is the k-th node taken from the queue; children are queued as a pair, so
    // they get consecutive slots, the first of which is known when the parent is packed.
    let mut next_slot = 1u32;
    while let Some(index) = queue.pop_front() {
        let node = &tree.nodes[index];
        packed.push(packed_node(node, next_slot));
        if !node.is_leaf() {
            next_slot += 2;
            queue.push_back(node.left as usize);
            queue.push_back(node.right as usize);
        }
    }
    packed
}

/// Rows walked through a tree together: their node loads overlap instead of each row waiting
/// for its previous level's load (a deep forest's walk is bound by that latency).
const WALK_LANES: usize = 8;

/// Adds the leaf values a packed tree gives rows `first..first + sums.len()` of `x` to `sums`.
fn add_packed(nodes: &[PackedNode], x: &Matrix, first: usize, sums: &mut [f64]) {
    let done = sums.len() / WALK_LANES * WALK_LANES;
    let mut lanes = sums.chunks_exact_mut(WALK_LANES);
    for (group, lane_sums) in lanes.by_ref().enumerate() {
        let base = first + group * WALK_LANES;
        let mut index = [0usize; WALK_LANES];
        loop {
            let mut moved = false;
            for (lane, position) in index.iter_mut().enumerate() {
                let node = nodes[*position];
                if node.feature != LEAF {
                    let value = x.get(base + lane, node.feature as usize);
                    *position = node.left as usize + right_step(value, node.threshold);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        for (sum, position) in lane_sums.iter_mut().zip(index) {
            *sum += nodes[position].threshold;
        }
    }
    for (offset, sum) in lanes.into_remainder().iter_mut().enumerate() {
        *sum += predict_packed(nodes, x.row(first + done + offset));
    }
}

/// 0 to go left (`value <= threshold`), 1 to go right; a NaN goes right, as in
/// [`Tree::predict_row`].
#[inline(always)]
fn right_step(value: f64, threshold: f64) -> usize {
    if value <= threshold {
        0
    } else {
        1
    }
}

/// The leaf value a packed tree gives `row` (the same as [`Tree::predict_row`]).
#[inline]
fn predict_packed(nodes: &[PackedNode], row: &[f64]) -> f64 {
    let mut index = 0usize;
    loop {
        let node = nodes[index];
        if node.feature == LEAF {
            return node.threshold;
        }
        index = node.left as usize + right_step(row[node.feature as usize], node.threshold);
    }
}

/// `Σ_t trees[t](row)` for every row of `x`, summed from 0.0 over the trees in order (exactly
/// what [`sum_trees_row`] gives). Evaluated tree by tree within blocks of rows, in parallel over
/// blocks: one tree's (packed) nodes stay in cache while it visits a whole block, instead of
/// every row walking all trees (a 300-tree forest is tens of MB of nodes).
pub(crate) fn sum_trees(trees: &[Tree], x: &Matrix) -> Vec<f64> {
    use rayon::prelude::*;
    let mut sums = vec![0.0; x.n_rows];
    if x.n_rows == 0 {
        return sums;
    }
    let packed: Vec<Vec<PackedNode>> = trees.par_iter().map(pack).collect();
    sums.par_chunks_mut(SUM_BLOCK_ROWS)
        .enumerate()
        .for_each(|(block, chunk)| {
            let first = block * SUM_BLOCK_ROWS;
            for tree in &packed {
                add_packed(tree, x, first, chunk);
            }
        });
    sums
}

/// `Σ_t trees[t](row)` for one row, summed from 0.0 in tree order.
#[cfg(test)]
pub(crate) fn sum_trees_row(trees: &[Tree], row: &[f64]) -> f64 {
    trees
        .iter()
        .fold(0.0, |sum, tree| sum + tree.predict_row(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(feature: u32, threshold: f64, left: u32, right: u32) -> Node {
        Node {
            feature,
            threshold,
            left,
            right,
            value: 0.0,
            cover: 1.0,
            gain: 1.0,
        }
    }

    fn leaf(value: f64) -> Node {
        Node {
            feature: 0,
            threshold: 0.0,
            left: LEAF,
            right: LEAF,
            value,
            cover: 1.0,
            gain: 0.0,
        }
    }

    #[test]
    fn batched_walk_equals_the_row_walk_whatever_the_node_order() {
        // Children stored apart and in reverse order (as an edited model file might have them),
        // next to a tree with adjacent siblings; NaN must go right in both walks.
        let scattered = Tree {
            nodes: vec![
                split(0, 0.5, 4, 1),
                split(1, 2.0, 3, 2),
                leaf(30.0),
                leaf(20.0),
                leaf(10.0),
            ],
        };
        let adjacent = Tree {
            nodes: vec![split(1, 1.0, 1, 2), leaf(-1.0), leaf(1.0)],
        };
        let trees = [scattered, adjacent];
        // 19 rows: two full lanes of 8 and a remainder of 3.
        let mut data = Vec::new();
        for i in 0..19 {
            let a = if i == 5 {
                f64::NAN
            } else {
                f64::from(i % 3) * 0.4
            };
            let b = if i == 11 { f64::NAN } else { f64::from(i % 5) };
            data.extend([a, b]);
        }
        let x = Matrix::new(19, 2, data);
        let sums = sum_trees(&trees, &x);
        for (i, sum) in sums.iter().enumerate() {
            assert_eq!(*sum, sum_trees_row(&trees, x.row(i)), "row {i}");
        }
        assert_eq!(trees[0].predict_row(&[f64::NAN, 0.0]), 20.0);
        assert_eq!(
            sum_trees(&trees, &Matrix::new(0, 2, vec![])),
            Vec::<f64>::new()
        );
    }
}
