//! SHAP explanations of the cashback models: exact path-dependent TreeSHAP for a tree, a random
//! forest or gradient boosting, and exact linear SHAP for the linear model, plus the local
//! accuracy check (`base + Σ φ = prediction`) every explanation must pass before it is stored;
//! the offer test's effect explanations (`effects`) and the stage's tables (`tables`).

pub(crate) mod drivers;
pub(crate) mod effects;
mod linear;
mod path_kernel;
mod quadrature;
pub(crate) mod tables;
mod treeshap;

pub(crate) use linear::linear_shap;
pub use treeshap::ensemble_shap;

use crate::models::family::{Model, SavedModel};

/// SHAP values of a set of rows: `base_value + Σ_j values[i][j]` is the prediction of row `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapValues {
    /// Expected prediction over the training distribution (the same for every row).
    pub base_value: f64,
    /// Rows explained.
    pub n_rows: usize,
    /// Features per row (columns of `values`).
    pub n_features: usize,
    /// Row-major `n_rows × n_features` contributions.
    pub values: Vec<f64>,
}

impl ShapValues {
    /// Contributions of row `i`, one per feature.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Mean absolute contribution of each feature over the rows (zeros when there are none).
    pub(crate) fn mean_abs(&self) -> Vec<f64> {
        let mut means = vec![0.0; self.n_features];
        if self.n_features == 0 || self.n_rows == 0 {
            return means;
        }
        for row in self.values.chunks_exact(self.n_features) {
            for (mean, value) in means.iter_mut().zip(row) {
                *mean += value.abs();
            }
        }
        for mean in &mut means {
            *mean /= self.n_rows as f64;
        }
        means
    }
}

/// Why a set of SHAP values failed the local accuracy check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum LocalAccuracyError {
    /// The predictions do not match the explained rows one for one.
    #[error("SHAP values cover {shap_rows} rows but {predictions} predictions were given")]
    RowCountMismatch {
        shap_rows: usize,
        predictions: usize,
    },
    /// `values` does not have `n_rows × n_features` entries.
    #[error("SHAP values hold {values} numbers, not {n_rows} rows × {n_features} features")]
    MalformedValues {
        values: usize,
        n_rows: usize,
        n_features: usize,
    },
    /// A row whose contributions do not add up to its prediction.
    #[error(
        "local accuracy fails on row {row}: base {base_value} + Σφ {shap_sum} = {reconstructed}, \
         but the prediction is {prediction} (difference {difference:e}, tolerance {tolerance:e})"
    )]
    Mismatch {
        row: usize,
        base_value: f64,
        shap_sum: f64,
        reconstructed: f64,
        prediction: f64,
        difference: f64,
        tolerance: f64,
    },
}

/// Relative tolerance of `explain`'s local-accuracy check.
pub(crate) const LOCAL_ACCURACY_TOLERANCE: f64 = 1e-9;

/// Local accuracy check: |base + Σφ − prediction| ≤ `rel_tol` × max(1, |prediction|) for every
/// row; returns the first failing row with its numbers as an error. A NaN anywhere fails.
pub(crate) fn check_local_accuracy(
    shap: &ShapValues,
    predictions: &[f64],
    rel_tol: f64,
) -> Result<(), LocalAccuracyError> {
    if shap.values.len() != shap.n_rows * shap.n_features {
        return Err(LocalAccuracyError::MalformedValues {
            values: shap.values.len(),
            n_rows: shap.n_rows,
            n_features: shap.n_features,
        });
    }
    if predictions.len() != shap.n_rows {
        return Err(LocalAccuracyError::RowCountMismatch {
            shap_rows: shap.n_rows,
            predictions: predictions.len(),
        });
    }
    for (row, &prediction) in predictions.iter().enumerate() {
        let shap_sum: f64 = shap.values[row * shap.n_features..(row + 1) * shap.n_features]
            .iter()
            .sum();
        let reconstructed = shap.base_value + shap_sum;
        let difference = (reconstructed - prediction).abs();
        let tolerance = rel_tol * prediction.abs().max(1.0);
        // False for a NaN difference (or tolerance) too, which must fail.
        let accepted = difference <= tolerance;
        if !accepted {
            return Err(LocalAccuracyError::Mismatch {
                row,
                base_value: shap.base_value,
                shap_sum,
                reconstructed,
                prediction,
                difference,
                tolerance,
            });
        }
    }
    Ok(())
}

/// Exact SHAP values of a saved model on `x`.
pub(crate) fn model_shap(saved: &SavedModel, x: &crate::learn::matrix::Matrix) -> ShapValues {
    match &saved.model {
        Model::Linear(linear) => {
            linear_shap(linear.intercept, &linear.weights, &saved.feature_means, x)
        }
        Model::DecisionTree(tree) => ensemble_shap(std::slice::from_ref(tree), 0.0, 1.0, x),
        Model::RandomForest(forest) => ensemble_shap(
            &forest.trees,
            0.0,
            1.0 / forest.trees.len().max(1) as f64,
            x,
        ),
        Model::GradientBoosting(boosting) => {
            ensemble_shap(&boosting.trees, boosting.base_score, 1.0, x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_rows() -> ShapValues {
        ShapValues {
            base_value: 1.0,
            n_rows: 2,
            n_features: 2,
            values: vec![0.5, -0.25, 2.0, 0.0],
        }
    }

    #[test]
    fn accepts_exact_reconstruction() {
        assert_eq!(
            check_local_accuracy(&two_rows(), &[1.25, 3.0], 1e-9),
            Ok(())
        );
    }

    #[test]
    fn tolerance_is_relative_above_one_and_absolute_below() {
        let shap = ShapValues {
            base_value: 0.0,
            n_rows: 1,
            n_features: 1,
            values: vec![1000.0],
        };
        // 1e-7 off on a prediction of 1000: relative error 1e-10, accepted at 1e-9.
        assert!(check_local_accuracy(&shap, &[1000.0 + 1e-7], 1e-9).is_ok());
        assert!(check_local_accuracy(&shap, &[1000.0 + 1e-5], 1e-9).is_err());
        let small = ShapValues {
            base_value: 0.0,
            n_rows: 1,
            n_features: 1,
            values: vec![1e-3],
        };
        // Small predictions are held to an absolute 1e-9, not 1e-9 × 1e-3.
        assert!(check_local_accuracy(&small, &[1e-3 + 5e-10], 1e-9).is_ok());
        assert!(check_local_accuracy(&small, &[1e-3 + 5e-9], 1e-9).is_err());
    }

    #[test]
    fn reports_the_first_failing_row_with_its_numbers() {
        let error = check_local_accuracy(&two_rows(), &[1.25, 3.5], 1e-9).unwrap_err();
        match error {
            LocalAccuracyError::Mismatch {
                row,
                reconstructed,
                prediction,
                ..
            } => {
                assert_eq!((row, reconstructed, prediction), (1, 3.0, 3.5));
            }
            other => panic!("unexpected {other:?}"),
        }
        let message = check_local_accuracy(&two_rows(), &[0.0, 3.5], 1e-9)
            .unwrap_err()
            .to_string();
        assert!(message.contains("row 0"), "{message}");
    }

    #[test]
    fn nan_fails() {
        let mut shap = two_rows();
        shap.values[0] = f64::NAN;
        assert!(check_local_accuracy(&shap, &[1.25, 3.0], 1e-9).is_err());
        assert!(check_local_accuracy(&two_rows(), &[f64::NAN, 3.0], 1e-9).is_err());
    }

    #[test]
    fn row_count_mismatch() {
        assert_eq!(
            check_local_accuracy(&two_rows(), &[1.25], 1e-9),
            Err(LocalAccuracyError::RowCountMismatch {
                shap_rows: 2,
                predictions: 1
            })
        );
    }

    #[test]
    fn malformed_values() {
        let mut shap = two_rows();
        shap.values.pop();
        assert!(matches!(
            check_local_accuracy(&shap, &[1.25, 3.0], 1e-9),
            Err(LocalAccuracyError::MalformedValues { values: 3, .. })
        ));
    }

    #[test]
    fn mean_abs_and_row_access() {
        let shap = two_rows();
        assert_eq!(shap.row(1), &[2.0, 0.0]);
        assert_eq!(shap.mean_abs(), vec![1.25, 0.125]);
        let empty = ShapValues {
            base_value: 0.0,
            n_rows: 0,
            n_features: 2,
            values: Vec::new(),
        };
        assert_eq!(empty.mean_abs(), vec![0.0, 0.0]);
    }
}
