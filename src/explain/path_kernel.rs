//! The Linear TreeSHAP kernel: path polynomials carried as their values at Gauss–Legendre
//! points (see [`super::treeshap`] for the mathematics).
//!
//! The walk is the same for every row — only `A` depends on `x` — so each tree is compiled once
//! into a [`TreeTape`] (pre-order steps with their cover products and the two possible
//! reciprocals of each factor precomputed) and replayed for `L` rows at a time, the rows in the
//! innermost loops so that the arithmetic vectorises. Lanes never interact, so every row gets
//! the same floating-point operations whatever the batch or the thread count. Leaves are
//! settled as they are entered, and a twig (an internal node whose children are both leaves)
//! is settled with its two leaves in one step.

use super::quadrature::GaussLegendre;
use crate::learn::tree::Tree;

/// Marks a step whose feature has no earlier split on the current path.
const NO_LEVEL: u32 = u32::MAX;

/// Step flag: the row must satisfy `x[feature] <= threshold` to agree with this edge.
const GOES_LEFT: u8 = 1;
/// Step flag: the node entered is a leaf.
const IS_LEAF: u8 = 2;
/// Step flag: the node entered is a "twig", an internal node whose children are both leaves;
/// the step handles the two leaves as well.
const IS_TWIG: u8 = 4;
/// Step flag: some deeper edge on the same feature reports its subtree back to this level.
const HAS_REPEAT_BELOW: u8 = 8;
/// Step flag: the node entered is its parent's first child in the walk, so its subtree sum
/// initialises the parent's instead of adding to it.
const FIRST_CHILD: u8 = 16;

/// One edge of the pre-order walk: entering a node at `level` from its parent.
#[derive(Clone, Debug)]
struct Step {
    /// The parent's split threshold.
    threshold: f64,
    /// `R`: product of the cover fractions of this feature's edges on the path, this one included.
    zero_fraction: f64,
    /// Leaf output, when the node entered is a leaf.
    leaf_value: f64,
    /// The parent's split feature.
    feature: u32,
    /// Depth of the node entered (the root is level 0, so steps start at 1).
    level: u32,
    /// Level of the previous edge on the same feature along the path, or [`NO_LEVEL`].
    previous_level: u32,
    /// Index into [`TreeTape::twigs`] when the node entered is a twig.
    twig: u32,
    flags: u8,
}

/// The split of a twig and its two leaves.
#[derive(Clone, Debug)]
struct Twig {
    threshold: f64,
    /// `R` of the edges into the left and right leaf (over the twig's split feature).
    left_zero_fraction: f64,
    right_zero_fraction: f64,
    left_value: f64,
    right_value: f64,
    feature: u32,
    /// Level of the previous edge on the split feature (possibly the twig's own), or
    /// [`NO_LEVEL`].
    previous_level: u32,
}

/// A tree compiled for replay: its edges in pre-order with everything that does not depend on
/// the row precomputed.
#[derive(Clone, Debug)]
pub(crate) struct TreeTape {
    steps: Vec<Step>,
    twigs: Vec<Twig>,
    /// Per step, `n` values of `1 / ((1 − t_k) R)` then `n` of `1 / ((1 − t_k) R + t_k)`: the
    /// reciprocal of the feature's factor when the row disagrees (`A = 0`) or agrees (`A = 1`).
    reciprocals: Vec<f64>,
    /// The quadrature rule for this tree's path polynomials.
    rule: GaussLegendre,
    /// Deepest level a step enters.
    pub(crate) max_level: usize,
}

/// What the tape builder keeps for each level of the current path.
#[derive(Clone, Copy)]
struct PathEntry {
    node: usize,
    step: usize,
    feature: u32,
    zero_fraction: f64,
    distinct_features: usize,
}

impl TreeTape {
    /// Compiles `tree`; a single leaf (or empty tree) gives an empty tape.
    pub(crate) fn build(tree: &Tree) -> Self {
        let mut steps: Vec<Step> = Vec::with_capacity(tree.nodes.len() / 2 + 1);
        let mut twigs: Vec<Twig> = Vec::with_capacity(tree.nodes.len() / 4 + 1);
        let root_entry = PathEntry {
            node: 0,
            step: usize::MAX,
            feature: u32::MAX,
            zero_fraction: 1.0,
            distinct_features: 0,
        };
        let mut path: Vec<PathEntry> = vec![root_entry];
        let mut max_distinct = 0;
        let mut max_level = 0;
        // (node, level) pairs still to enter; the root itself is level 0 and no step.
        let mut pending: Vec<(usize, usize)> = Vec::new();
        if let Some(root) = tree.nodes.first() {
            if !root.is_leaf() {
                pending.push((root.right as usize, 1));
                pending.push((root.left as usize, 1));
            }
        }
        while let Some((index, level)) = pending.pop() {
            // Pre-order: the parent is the path's node at level − 1.
            path.truncate(level);
            let parent_index = path[level - 1].node;
            let parent = &tree.nodes[parent_index];
            let node = &tree.nodes[index];
            let goes_left = parent.left as usize == index;
            let (left_fraction, right_fraction) = child_fractions(tree, parent_index);
            let fraction = if goes_left {
                left_fraction
            } else {
                right_fraction
            };
            let feature = parent.feature;
            let previous_level = (1..level).rev().find(|&l| path[l].feature == feature);
            let (zero_fraction, distinct_features) = match previous_level {
                Some(previous) => {
                    steps[path[previous].step].flags |= HAS_REPEAT_BELOW;
                    (
                        path[previous].zero_fraction * fraction,
                        path[level - 1].distinct_features,
                    )
                }
                None => (fraction, path[level - 1].distinct_features + 1),
            };
            let mut flags = if goes_left {
                GOES_LEFT | FIRST_CHILD
            } else {
                0
            };
            max_distinct = max_distinct.max(distinct_features);
            max_level = max_level.max(level);
            path.push(PathEntry {
                node: index,
                step: steps.len(),
                feature,
                zero_fraction,
                distinct_features,
            });
            let mut twig = u32::MAX;
            if node.is_leaf() {
                flags |= IS_LEAF;
            } else if tree.nodes[node.left as usize].is_leaf()
                && tree.nodes[node.right as usize].is_leaf()
            {
                flags |= IS_TWIG;
                let split_previous = (1..=level).rev().find(|&l| path[l].feature == node.feature);
                let split_zero = match split_previous {
                    Some(previous) => {
                        // A twig settles a repeat of its own edge by itself.
                        if previous < level {
                            steps[path[previous].step].flags |= HAS_REPEAT_BELOW;
                        }
                        path[previous].zero_fraction
                    }
                    None => {
                        max_distinct = max_distinct.max(distinct_features + 1);
                        1.0
                    }
                };
                let (left_fraction, right_fraction) = child_fractions(tree, index);
                twig = twigs.len() as u32;
                twigs.push(Twig {
                    threshold: node.threshold,
                    left_zero_fraction: split_zero * left_fraction,
                    right_zero_fraction: split_zero * right_fraction,
                    left_value: tree.nodes[node.left as usize].value,
                    right_value: tree.nodes[node.right as usize].value,
                    feature: node.feature,
                    previous_level: split_previous.map_or(NO_LEVEL, |l| l as u32),
                });
            } else {
                pending.push((node.right as usize, level + 1));
                pending.push((node.left as usize, level + 1));
            }
            steps.push(Step {
                threshold: parent.threshold,
                zero_fraction,
                leaf_value: node.value,
                feature,
                level: level as u32,
                previous_level: previous_level.map_or(NO_LEVEL, |l| l as u32),
                twig,
                flags,
            });
        }

        // The integrands have degree ≤ max_distinct − 1.
        let n_points = GaussLegendre::points_for_degree(max_distinct.saturating_sub(1));
        let rule = GaussLegendre::new(n_points);
        let mut reciprocals = Vec::with_capacity(steps.len() * 2 * n_points);
        for step in &steps {
            let zero = step.zero_fraction;
            // A factor that is identically zero (no cover, row disagrees) only ever multiplies
            // zero sums and a zero `A − R`, so its "reciprocal" is taken as 0 to keep NaN out.
            reciprocals.extend(rule.nodes.iter().map(|&t| {
                let factor = (1.0 - t) * zero;
                if factor > 0.0 {
                    1.0 / factor
                } else {
                    0.0
                }
            }));
            reciprocals.extend(rule.nodes.iter().map(|&t| 1.0 / ((1.0 - t) * zero + t)));
        }
        Self {
            steps,
            twigs,
            reciprocals,
            rule,
            max_level,
        }
    }

    /// Quadrature points used for this tree.
    pub(crate) fn n_points(&self) -> usize {
        self.rule.len()
    }

    /// True when the tree has no split (its SHAP values are all zero).
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Adds the SHAP values of `L` rows (`lane_x[feature][lane]`) into `lane_phi[feature][lane]`.
    ///
    /// Uses a copy of the kernel compiled for AVX2 when the CPU has it; the results are
    /// bit-identical either way, because only additions and multiplications are emitted (Rust
    /// never fuses them) and each lane's operations are the same.
    pub(crate) fn replay<const L: usize>(
        &self,
        lane_x: &[[f64; L]],
        lane_phi: &mut [[f64; L]],
        workspace: &mut Workspace<L>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked on the line above.
            unsafe { self.replay_avx2(lane_x, lane_phi, workspace) };
            return;
        }
        self.replay_points(lane_x, lane_phi, workspace);
    }

    /// [`TreeTape::replay_points`] compiled with AVX2 enabled.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn replay_avx2<const L: usize>(
        &self,
        lane_x: &[[f64; L]],
        lane_phi: &mut [[f64; L]],
        workspace: &mut Workspace<L>,
    ) {
        self.replay_points(lane_x, lane_phi, workspace);
    }

    /// The usual point counts get their own copy of the kernel, with the loops over points
    /// unrolled; larger counts (more than 16 distinct features on a path) share a generic one.
    #[inline(always)]
    fn replay_points<const L: usize>(
        &self,
        lane_x: &[[f64; L]],
        lane_phi: &mut [[f64; L]],
        workspace: &mut Workspace<L>,
    ) {
        match self.rule.len() {
            1 => self.replay_with(1, lane_x, lane_phi, workspace),
            2 => self.replay_with(2, lane_x, lane_phi, workspace),
            3 => self.replay_with(3, lane_x, lane_phi, workspace),
            4 => self.replay_with(4, lane_x, lane_phi, workspace),
            5 => self.replay_with(5, lane_x, lane_phi, workspace),
            6 => self.replay_with(6, lane_x, lane_phi, workspace),
            7 => self.replay_with(7, lane_x, lane_phi, workspace),
            8 => self.replay_with(8, lane_x, lane_phi, workspace),
            n => self.replay_with(n, lane_x, lane_phi, workspace),
        }
    }

    /// The kernel for `n` points (inlined into each arm of [`TreeTape::replay_points`]).
    #[inline(always)]
    fn replay_with<const L: usize>(
        &self,
        n: usize,
        lane_x: &[[f64; L]],
        lane_phi: &mut [[f64; L]],
        workspace: &mut Workspace<L>,
    ) {
        let nodes = &self.rule.nodes[..n];
        let weights = &self.rule.weights[..n];
        workspace.reset(n);
        // Deepest level whose edge is entered but not yet closed (0: only the root).
        let mut open = 0usize;
        for (index, step) in self.steps.iter().enumerate() {
            let level = step.level as usize;
            while open >= level {
                workspace.close(self, open, n, weights, lane_phi);
                open -= 1;
            }
            if step.flags & IS_LEAF != 0 {
                workspace.leaf(step, n, nodes, weights, lane_x, lane_phi);
                open = level - 1;
            } else if step.flags & IS_TWIG != 0 {
                workspace.twig(self, index, n, nodes, weights, lane_x, lane_phi);
                open = level - 1;
            } else {
                workspace.enter(self, index, n, nodes, lane_x);
                open = level;
            }
        }
        while open >= 1 {
            workspace.close(self, open, n, weights, lane_phi);
            open -= 1;
        }
    }
}

/// Per-thread buffers of the replay. Per-point arrays hold `n` entries per level of the path
/// (entry `level × n + k`), each entry one value per lane.
pub(crate) struct Workspace<const L: usize> {
    /// Most points any tree may use (the buffers are sized for it).
    max_points: usize,
    /// Path product `P(t_k)` after the edge into each level (level 0: the root, all ones).
    product: Vec<[f64; L]>,
    /// `1 / F(t_k)` of the edge into each level.
    reciprocal: Vec<[f64; L]>,
    /// Σ `v_ℓ P_ℓ(t_k)` over the leaves finished below each level.
    subtree: Vec<[f64; L]>,
    /// Part of `subtree` that deeper edges on the same feature have already charged.
    repeated: Vec<[f64; L]>,
    /// `A` of the edge into each level: 1 when the row satisfies all its feature's splits so far.
    agrees: Vec<[f64; L]>,
    /// Tape step that opened each level.
    open_step: Vec<usize>,
}

impl<const L: usize> Workspace<L> {
    /// Buffers for trees up to `max_level` deep using up to `max_points` points.
    pub(crate) fn new(max_level: usize, max_points: usize) -> Self {
        let max_points = max_points.max(1);
        let slots = (max_level + 1) * max_points;
        Self {
            max_points,
            product: vec![[0.0; L]; slots],
            reciprocal: vec![[0.0; L]; slots],
            subtree: vec![[0.0; L]; slots],
            repeated: vec![[0.0; L]; slots],
            agrees: vec![[1.0; L]; max_level + 1],
            open_step: vec![0; max_level + 1],
        }
    }

    /// Prepares for a tree using `n` points: the root's path product is 1.
    fn reset(&mut self, n: usize) {
        debug_assert!(n <= self.max_points);
        self.product[..n].fill([1.0; L]);
    }

    /// `A` for each lane: whether the row agrees with the edge `x[feature] <= threshold` (or
    /// `>` when `!goes_left`) and with every earlier edge on the same feature.
    #[inline(always)]
    fn agreement(
        &self,
        feature: u32,
        threshold: f64,
        goes_left: bool,
        previous_level: u32,
        lane_x: &[[f64; L]],
    ) -> [f64; L] {
        let x = &lane_x[feature as usize];
        let mut agrees = [0.0; L];
        for lane in 0..L {
            agrees[lane] = if (x[lane] <= threshold) == goes_left {
                1.0
            } else {
                0.0
            };
        }
        if previous_level != NO_LEVEL {
            let earlier = &self.agrees[previous_level as usize];
            for lane in 0..L {
                agrees[lane] *= earlier[lane];
            }
        }
        agrees
    }

    /// Descends along internal tape step `index`.
    #[inline(always)]
    fn enter(
        &mut self,
        tape: &TreeTape,
        index: usize,
        n: usize,
        nodes: &[f64],
        lane_x: &[[f64; L]],
    ) {
        let step = &tape.steps[index];
        let level = step.level as usize;
        let goes_left = step.flags & GOES_LEFT != 0;
        let agrees = self.agreement(
            step.feature,
            step.threshold,
            goes_left,
            step.previous_level,
            lane_x,
        );
        self.agrees[level] = agrees;
        self.open_step[level] = index;

        let (inverse_zero, inverse_one) = tape.reciprocals[index * 2 * n..][..2 * n].split_at(n);
        let (product_above, product_here) = self.product.split_at_mut(level * n);
        let product_parent = &product_above[(level - 1) * n..][..n];
        let product_here = &mut product_here[..n];
        let (reciprocal_above, reciprocal_here) = self.reciprocal.split_at_mut(level * n);
        let reciprocal_here = &mut reciprocal_here[..n];
        let zero = step.zero_fraction;
        for k in 0..n {
            let t = nodes[k];
            let disagreeing = (1.0 - t) * zero;
            let parent = &product_parent[k];
            let mut product = [0.0; L];
            for lane in 0..L {
                product[lane] = parent[lane] * (disagreeing + t * agrees[lane]);
            }
            product_here[k] = product;
        }
        if step.flags & HAS_REPEAT_BELOW != 0 {
            // Deeper edges on the feature divide this factor out again: keep its reciprocal.
            // A select by arithmetic (exact, as A is 0 or 1) vectorises better than a branch.
            for k in 0..n {
                let mut reciprocal = [0.0; L];
                for lane in 0..L {
                    reciprocal[lane] =
                        inverse_zero[k] * (1.0 - agrees[lane]) + inverse_one[k] * agrees[lane];
                }
                reciprocal_here[k] = reciprocal;
            }
        }
        if step.previous_level != NO_LEVEL {
            // The feature's combined factor replaces its earlier one.
            let earlier = &reciprocal_above[step.previous_level as usize * n..][..n];
            for (product, earlier) in product_here.iter_mut().zip(earlier) {
                for lane in 0..L {
                    product[lane] *= earlier[lane];
                }
            }
        }
        if step.flags & HAS_REPEAT_BELOW != 0 {
            self.repeated[level * n..][..n].fill([0.0; L]);
        }
    }

    /// Handles a leaf step in one go: charges its feature and hands `v·P_ℓ` up.
    #[inline(always)]
    fn leaf(
        &mut self,
        step: &Step,
        n: usize,
        nodes: &[f64],
        weights: &[f64],
        lane_x: &[[f64; L]],
        lane_phi: &mut [[f64; L]],
    ) {
        let level = step.level as usize;
        let goes_left = step.flags & GOES_LEFT != 0;
        let agrees = self.agreement(
            step.feature,
            step.threshold,
            goes_left,
            step.previous_level,
            lane_x,
        );
        let value = step.leaf_value;
        let zero = step.zero_fraction;
        let first_child = step.flags & FIRST_CHILD != 0;
        let Self {
            product,
            reciprocal,
            subtree,
            repeated,
            ..
        } = self;
        let product_parent = &product[(level - 1) * n..][..n];
        let subtree_parent = &mut subtree[(level - 1) * n..][..n];
        let earlier = (step.previous_level != NO_LEVEL)
            .then(|| &reciprocal[step.previous_level as usize * n..][..n]);
        let mut integral = [0.0; L];
        for k in 0..n {
            let t = nodes[k];
            let disagreeing = (1.0 - t) * zero;
            // `P_ℓ / F` is `P_parent / F_earlier`: the edge's own factor cancels (and where it
            // is zero, so is the charge `A − R`), which saves a multiplication and a rounding.
            let mut reduced = product_parent[k];
            if let Some(earlier) = earlier {
                for lane in 0..L {
                    reduced[lane] *= earlier[k][lane];
                }
            }
            let mut weighted = [0.0; L];
            for lane in 0..L {
                integral[lane] += weights[k] * reduced[lane];
                weighted[lane] = value * (reduced[lane] * (disagreeing + t * agrees[lane]));
            }
            if first_child {
                subtree_parent[k] = weighted;
            } else {
                for lane in 0..L {
                    subtree_parent[k][lane] += weighted[lane];
                }
            }
            if step.previous_level != NO_LEVEL {
                let sum = &mut repeated[step.previous_level as usize * n + k];
                for lane in 0..L {
                    sum[lane] += weighted[lane];
                }
            }
        }
        let phi = &mut lane_phi[step.feature as usize];
        for lane in 0..L {
            phi[lane] += (agrees[lane] - zero) * (value * integral[lane]);
        }
    }

    /// Handles a twig step in one go: the edge into the twig, its two leaves, and the close of
    /// the edge. Both leaves share the path above, hence `P_ℓ / F` and its integral; their sum
    /// is the twig's subtree sum, and nothing of the twig's level needs to be stored.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn twig(
        &mut self,
        tape: &TreeTape,
        index: usize,
        n: usize,
        nodes: &[f64],
        weights: &[f64],
        lane_x: &[[f64; L]],
        lane_phi: &mut [[f64; L]],
    ) {
        let step = &tape.steps[index];
        let twig = &tape.twigs[step.twig as usize];
        let level = step.level as usize;
        let goes_left = step.flags & GOES_LEFT != 0;
        let agrees_twig = self.agreement(
            step.feature,
            step.threshold,
            goes_left,
            step.previous_level,
            lane_x,
        );
        // The leaves may look up the twig's own edge as their earlier split on the feature.
        self.agrees[level] = agrees_twig;
        let agrees_left = self.agreement(
            twig.feature,
            twig.threshold,
            true,
            twig.previous_level,
            lane_x,
        );
        // Exactly one leaf agrees with the split; neither if an earlier split on the feature
        // already disagrees.
        let earlier_agrees = if twig.previous_level != NO_LEVEL {
            self.agrees[twig.previous_level as usize]
        } else {
            [1.0; L]
        };
        let mut agrees_right = [0.0; L];
        for lane in 0..L {
            agrees_right[lane] = earlier_agrees[lane] - agrees_left[lane];
        }

        let (inverse_zero, inverse_one) = tape.reciprocals[index * 2 * n..][..2 * n].split_at(n);
        let zero = step.zero_fraction;
        let (left_zero, right_zero) = (twig.left_zero_fraction, twig.right_zero_fraction);
        let (left_value, right_value) = (twig.left_value, twig.right_value);
        let first_child = step.flags & FIRST_CHILD != 0;
        // When the split repeats the twig's own feature, the leaves are charged at the split
        // and the twig's edge charges nothing (its subtree minus what was claimed is zero).
        let split_repeats_edge = twig.previous_level as usize == level;
        let Self {
            product,
            reciprocal,
            subtree,
            repeated,
            ..
        } = self;
        let product_parent = &product[(level - 1) * n..][..n];
        let subtree_parent = &mut subtree[(level - 1) * n..][..n];
        let mut twig_integral_zero = [0.0; L];
        let mut twig_integral_one = [0.0; L];
        let mut leaf_integral = [0.0; L];
        for k in 0..n {
            let t = nodes[k];
            let disagreeing = (1.0 - t) * zero;
            let mut product_twig = [0.0; L];
            for lane in 0..L {
                product_twig[lane] =
                    product_parent[k][lane] * (disagreeing + t * agrees_twig[lane]);
            }
            if step.previous_level != NO_LEVEL {
                let earlier = &reciprocal[step.previous_level as usize * n + k];
                for lane in 0..L {
                    product_twig[lane] *= earlier[lane];
                }
            }
            // `P_ℓ / F_ℓ` for both leaves (see `leaf`).
            let mut reduced = product_twig;
            if split_repeats_edge {
                for lane in 0..L {
                    reduced[lane] *= inverse_zero[k] * (1.0 - agrees_twig[lane])
                        + inverse_one[k] * agrees_twig[lane];
                }
            } else if twig.previous_level != NO_LEVEL {
                let earlier = &reciprocal[twig.previous_level as usize * n + k];
                for lane in 0..L {
                    reduced[lane] *= earlier[lane];
                }
            }
            let left_disagreeing = (1.0 - t) * left_zero;
            let right_disagreeing = (1.0 - t) * right_zero;
            let mut weighted = [0.0; L];
            for lane in 0..L {
                leaf_integral[lane] += weights[k] * reduced[lane];
                let left = left_value * (left_disagreeing + t * agrees_left[lane]);
                let right = right_value * (right_disagreeing + t * agrees_right[lane]);
                weighted[lane] = reduced[lane] * (left + right);
            }
            if !split_repeats_edge {
                let (weight_zero, weight_one) =
                    (weights[k] * inverse_zero[k], weights[k] * inverse_one[k]);
                for lane in 0..L {
                    twig_integral_zero[lane] += weight_zero * weighted[lane];
                    twig_integral_one[lane] += weight_one * weighted[lane];
                }
            }
            if first_child {
                subtree_parent[k] = weighted;
            } else {
                for lane in 0..L {
                    subtree_parent[k][lane] += weighted[lane];
                }
            }
            if step.previous_level != NO_LEVEL {
                let sum = &mut repeated[step.previous_level as usize * n + k];
                for lane in 0..L {
                    sum[lane] += weighted[lane];
                }
            }
            if twig.previous_level != NO_LEVEL && !split_repeats_edge {
                let sum = &mut repeated[twig.previous_level as usize * n + k];
                for lane in 0..L {
                    sum[lane] += weighted[lane];
                }
            }
        }
        let phi = &mut lane_phi[step.feature as usize];
        for lane in 0..L {
            let twig_integral = twig_integral_zero[lane] * (1.0 - agrees_twig[lane])
                + twig_integral_one[lane] * agrees_twig[lane];
            phi[lane] += (agrees_twig[lane] - zero) * twig_integral;
        }
        let phi = &mut lane_phi[twig.feature as usize];
        for lane in 0..L {
            let charge = (agrees_left[lane] - left_zero) * left_value
                + (agrees_right[lane] - right_zero) * right_value;
            phi[lane] += charge * leaf_integral[lane];
        }
    }

    /// Finishes the internal edge into `level`: charges its feature for the leaves below that
    /// no deeper split on the same feature claims, and hands the subtree's sum up.
    #[inline(always)]
    fn close(
        &mut self,
        tape: &TreeTape,
        level: usize,
        n: usize,
        weights: &[f64],
        lane_phi: &mut [[f64; L]],
    ) {
        let index = self.open_step[level];
        let step = &tape.steps[index];
        let (inverse_zero, inverse_one) = tape.reciprocals[index * 2 * n..][..2 * n].split_at(n);
        let Self {
            subtree,
            repeated,
            agrees,
            ..
        } = self;
        let (subtree_above, subtree_rest) = subtree.split_at_mut(level * n);
        let subtree_here = &subtree_rest[..n];
        let subtree_parent = &mut subtree_above[(level - 1) * n..][..n];
        // ∫ (S − D) / F for both possible factors (A = 0 and A = 1), each lane then takes its
        // own: cheaper than selecting the reciprocal at every point.
        let mut integral_zero = [0.0; L];
        let mut integral_one = [0.0; L];
        if step.flags & HAS_REPEAT_BELOW != 0 {
            let repeated_here = &repeated[level * n..][..n];
            for k in 0..n {
                let (weight_zero, weight_one) =
                    (weights[k] * inverse_zero[k], weights[k] * inverse_one[k]);
                for lane in 0..L {
                    let unclaimed = subtree_here[k][lane] - repeated_here[k][lane];
                    integral_zero[lane] += weight_zero * unclaimed;
                    integral_one[lane] += weight_one * unclaimed;
                }
            }
        } else {
            for k in 0..n {
                let (weight_zero, weight_one) =
                    (weights[k] * inverse_zero[k], weights[k] * inverse_one[k]);
                for lane in 0..L {
                    integral_zero[lane] += weight_zero * subtree_here[k][lane];
                    integral_one[lane] += weight_one * subtree_here[k][lane];
                }
            }
        }
        let agrees = &agrees[level];
        let phi = &mut lane_phi[step.feature as usize];
        for lane in 0..L {
            let integral =
                integral_zero[lane] * (1.0 - agrees[lane]) + integral_one[lane] * agrees[lane];
            phi[lane] += (agrees[lane] - step.zero_fraction) * integral;
        }
        // The parent's sum gains this subtree; so does the earlier edge on the same feature,
        // which must not charge these leaves again with its own factor.
        if step.flags & FIRST_CHILD != 0 {
            subtree_parent.copy_from_slice(subtree_here);
        } else {
            for (sum, part) in subtree_parent.iter_mut().zip(subtree_here) {
                for lane in 0..L {
                    sum[lane] += part[lane];
                }
            }
        }
        if step.previous_level != NO_LEVEL {
            let previous = step.previous_level as usize;
            for (sum, part) in repeated[previous * n..][..n].iter_mut().zip(subtree_here) {
                for lane in 0..L {
                    sum[lane] += part[lane];
                }
            }
        }
    }
}

/// Fractions of the node's cover sent left and right.
///
/// Taken relative to the children's total rather than the node's own cover so that they always
/// sum to one (boosting hessian sums can differ from the parent's in the last bits); a node
/// whose children have no cover splits evenly.
pub(crate) fn child_fractions(tree: &Tree, index: usize) -> (f64, f64) {
    let node = &tree.nodes[index];
    let left = tree.nodes[node.left as usize].cover.max(0.0);
    let right = tree.nodes[node.right as usize].cover.max(0.0);
    let total = left + right;
    if total > 0.0 && total.is_finite() {
        (left / total, right / total)
    } else {
        (0.5, 0.5)
    }
}
