//! Gauss–Legendre quadrature on [0, 1], the integration rule behind the TreeSHAP kernel.
//!
//! TreeSHAP reduces every Shapley weight sum to an integral over `t ∈ [0, 1]` of a polynomial
//! whose degree is below the number of distinct features on a root-to-leaf path. An `n`-point
//! Gauss–Legendre rule integrates polynomials of degree ≤ 2n − 1 exactly, so a handful of points
//! gives the exact SHAP values (up to rounding), whatever the depth of the tree.

/// Nodes and weights of an `n`-point Gauss–Legendre rule mapped to [0, 1] (weights sum to 1).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GaussLegendre {
    pub(crate) nodes: Vec<f64>,
    pub(crate) weights: Vec<f64>,
}

impl GaussLegendre {
    /// The `n`-point rule (`n ≥ 1`), nodes in increasing order.
    ///
    /// Newton's method on the Legendre polynomial from the classic Chebyshev-like starting
    /// guesses; it converges quadratically, so the nodes are accurate to a few ulps.
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        let mut nodes = vec![0.0; n];
        let mut weights = vec![0.0; n];
        let half = n.div_ceil(2);
        for i in 0..half {
            let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            for _ in 0..100 {
                let (value, slope) = legendre(n, z);
                let step = value / slope;
                z -= step;
                if step.abs() <= 1e-16 {
                    break;
                }
            }
            // Weight on [-1, 1] is 2 / ((1 − z²) P'ₙ(z)²); halved by the map to [0, 1].
            let (_, slope) = legendre(n, z);
            let weight = 1.0 / ((1.0 - z * z) * slope * slope);
            nodes[i] = 0.5 * (1.0 - z);
            nodes[n - 1 - i] = 0.5 * (1.0 + z);
            weights[i] = weight;
            weights[n - 1 - i] = weight;
        }
        Self { nodes, weights }
    }

    /// Number of points.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Points needed to integrate a polynomial of degree `degree` exactly.
    pub(crate) fn points_for_degree(degree: usize) -> usize {
        (degree + 2) / 2
    }
}

/// Legendre polynomial Pₙ(z) and its derivative, by the three-term recurrence.
fn legendre(n: usize, z: f64) -> (f64, f64) {
    let mut current = 1.0;
    let mut previous = 0.0;
    for j in 1..=n {
        let older = previous;
        previous = current;
        current = ((2 * j - 1) as f64 * z * previous - (j - 1) as f64 * older) / j as f64;
    }
    let slope = n as f64 * (z * current - previous) / (z * z - 1.0);
    (current, slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_nodes_are_inside() {
        for n in 1..=40 {
            let rule = GaussLegendre::new(n);
            let total: f64 = rule.weights.iter().sum();
            assert!((total - 1.0).abs() < 1e-14, "n={n} total={total}");
            assert!(rule.nodes.iter().all(|&t| t > 0.0 && t < 1.0));
            assert!(
                rule.nodes.windows(2).all(|w| w[0] < w[1]),
                "n={n} not sorted"
            );
        }
    }

    #[test]
    fn integrates_monomials_exactly_up_to_degree_2n_minus_1() {
        for n in 1..=20 {
            let rule = GaussLegendre::new(n);
            for degree in 0..2 * n {
                let integral: f64 = rule
                    .nodes
                    .iter()
                    .zip(&rule.weights)
                    .map(|(&t, &w)| w * t.powi(degree as i32))
                    .sum();
                let exact = 1.0 / (degree as f64 + 1.0);
                assert!(
                    (integral - exact).abs() < 1e-14,
                    "n={n} degree={degree}: {integral}"
                );
            }
            if n > 8 {
                continue; // beyond this the degree-2n error is below rounding
            }
            // Degree 2n is not integrated exactly: the rule is as small as it may be.
            let integral: f64 = rule
                .nodes
                .iter()
                .zip(&rule.weights)
                .map(|(&t, &w)| w * t.powi(2 * n as i32))
                .sum();
            assert!((integral - 1.0 / (2.0 * n as f64 + 1.0)).abs() > 1e-12);
        }
    }

    #[test]
    fn points_for_degree_matches_exactness() {
        assert_eq!(GaussLegendre::points_for_degree(0), 1);
        assert_eq!(GaussLegendre::points_for_degree(1), 1);
        assert_eq!(GaussLegendre::points_for_degree(2), 2);
        assert_eq!(GaussLegendre::points_for_degree(3), 2);
        assert_eq!(GaussLegendre::points_for_degree(13), 7);
    }

    #[test]
    fn zero_points_means_one() {
        assert_eq!(GaussLegendre::new(0).len(), 1);
    }
}
