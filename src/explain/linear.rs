//! Exact SHAP for a linear model under feature independence: `φ_ij = w_j (x_ij − mean_j)`.

use super::ShapValues;
use crate::learn::matrix::Matrix;

/// Exact linear SHAP: φ_ij = w_j (x_ij − mean_j); base = intercept + Σ w_j mean_j.
///
/// `means` are the training means of the features (the background the base value refers to).
///
/// # Panics
/// If `weights` or `means` do not have one entry per column of `x`.
pub(crate) fn linear_shap(
    intercept: f64,
    weights: &[f64],
    means: &[f64],
    x: &Matrix,
) -> ShapValues {
    assert_eq!(weights.len(), x.n_cols, "one weight per feature");
    assert_eq!(means.len(), x.n_cols, "one mean per feature");
    let base_value = intercept + weights.iter().zip(means).map(|(w, m)| w * m).sum::<f64>();
    let mut values = Vec::with_capacity(x.data.len());
    for i in 0..x.n_rows {
        values.extend(
            x.row(i)
                .iter()
                .zip(weights)
                .zip(means)
                .map(|((&value, &w), &mean)| w * (value - mean)),
        );
    }
    ShapValues {
        base_value,
        n_rows: x.n_rows,
        n_features: x.n_cols,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::check_local_accuracy;

    #[test]
    fn hand_computed_values() {
        // y = 1 + 2 x0 − 3 x1, training means (0.5, 2).
        let x = Matrix::new(2, 2, vec![1.5, 1.0, -0.5, 4.0]);
        let shap = linear_shap(1.0, &[2.0, -3.0], &[0.5, 2.0], &x);
        // base = 1 + 2·0.5 − 3·2 = −4.
        assert_eq!(shap.base_value, -4.0);
        // Row 0: 2·(1.5 − 0.5) = 2, −3·(1 − 2) = 3; row 1: 2·(−1) = −2, −3·2 = −6.
        assert_eq!(shap.values, vec![2.0, 3.0, -2.0, -6.0]);
        assert_eq!((shap.n_rows, shap.n_features), (2, 2));
        // Predictions 1 + 3 − 3 = 1 and 1 − 1 − 12 = −12.
        check_local_accuracy(&shap, &[1.0, -12.0], 1e-12).expect("local accuracy");
    }

    #[test]
    fn row_at_the_means_is_all_zero() {
        let x = Matrix::new(1, 3, vec![0.2, -7.0, 3.0]);
        let shap = linear_shap(0.5, &[1.0, 2.0, -1.0], &[0.2, -7.0, 3.0], &x);
        assert_eq!(shap.values, vec![0.0; 3]);
        assert_eq!(shap.base_value, 0.5 + 0.2 - 14.0 - 3.0);
    }

    #[test]
    fn no_rows() {
        let x = Matrix::new(0, 2, Vec::new());
        let shap = linear_shap(1.0, &[1.0, 1.0], &[0.0, 0.0], &x);
        assert!(shap.values.is_empty());
        assert_eq!(shap.base_value, 1.0);
    }

    #[test]
    #[should_panic(expected = "one weight per feature")]
    fn weight_count_must_match() {
        let x = Matrix::new(1, 2, vec![0.0, 0.0]);
        let _ = linear_shap(0.0, &[1.0], &[0.0, 0.0], &x);
    }
}
