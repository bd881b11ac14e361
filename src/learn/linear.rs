//! Ordinary least squares with an intercept, robust to constant and collinear features.
//!
//! Features are centred (which absorbs the intercept) and scaled to unit norm, then solved by a
//! Householder QR with column pivoting. A constant feature, or one that is a linear combination of
//! features already taken (to within 1e-9 of its norm), gets weight 0, as R's `lm` drops aliased
//! columns: predictions stay the least-squares fit instead of failing on a singular system.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::matrix::Matrix;

/// A column whose remaining norm (the columns being unit length) falls below this is aliased.
const RANK_TOLERANCE: f64 = 1e-9;

/// Why a linear model could not be fitted.
#[derive(Debug, Error, PartialEq)]
pub(crate) enum LinearError {
    #[error("linear regression needs at least one row")]
    NoRows,
    #[error("linear regression needs one target per row, got {rows} rows and {targets} targets")]
    LengthMismatch { rows: usize, targets: usize },
    #[error("target at row {row} is not finite")]
    NonFiniteTarget { row: usize },
    #[error("feature {feature} at row {row} is not finite")]
    NonFiniteFeature { row: usize, feature: usize },
}

/// A fitted linear model: `intercept + Σ weights[j]·x[j]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Linear {
    pub intercept: f64,
    /// One weight per feature; 0 for constant or aliased features.
    pub weights: Vec<f64>,
}

impl Linear {
    /// The prediction for one row.
    pub(crate) fn predict_row(&self, row: &[f64]) -> f64 {
        self.intercept
            + self
                .weights
                .iter()
                .zip(row)
                .map(|(weight, value)| weight * value)
                .sum::<f64>()
    }

    /// Predictions for every row of `x`.
    pub(crate) fn predict(&self, x: &Matrix) -> Vec<f64> {
        (0..x.n_rows).map(|i| self.predict_row(x.row(i))).collect()
    }
}

/// Fits least squares with an intercept.
pub(crate) fn fit_linear(x: &Matrix, y: &[f64]) -> Result<Linear, LinearError> {
    let n_rows = x.n_rows;
    let n_cols = x.n_cols;
    if y.len() != n_rows {
        return Err(LinearError::LengthMismatch {
            rows: n_rows,
            targets: y.len(),
        });
    }
    if n_rows == 0 {
        return Err(LinearError::NoRows);
    }
    if let Some(row) = y.iter().position(|value| !value.is_finite()) {
        return Err(LinearError::NonFiniteTarget { row });
    }
    if let Some(index) = x.data.iter().position(|value| !value.is_finite()) {
        return Err(LinearError::NonFiniteFeature {
            row: index / n_cols,
            feature: index % n_cols,
        });
    }

    let y_mean = y.iter().sum::<f64>() / n_rows as f64;
    let mut residual: Vec<f64> = y.iter().map(|value| value - y_mean).collect();
    let means: Vec<f64> = (0..n_cols)
        .map(|j| (0..n_rows).map(|i| x.get(i, j)).sum::<f64>() / n_rows as f64)
        .collect();

    // Centred, unit-norm copies of the non-constant columns (column-major), with their scales.
    let mut columns: Vec<Vec<f64>> = Vec::new();
    let mut original: Vec<usize> = Vec::new();
    let mut scales: Vec<f64> = Vec::new();
    for (j, &mean) in means.iter().enumerate() {
        let mut column: Vec<f64> = (0..n_rows).map(|i| x.get(i, j) - mean).collect();
        let norm = column.iter().map(|value| value * value).sum::<f64>().sqrt();
        let magnitude = (0..n_rows).map(|i| x.get(i, j).abs()).fold(0.0, f64::max);
        // Relative test: what is left after centring is rounding noise of the values' size.
        if norm <= 1e-12 * (n_rows as f64).sqrt() * magnitude || norm == 0.0 {
            continue;
        }
        column.iter_mut().for_each(|value| *value /= norm);
        columns.push(column);
        original.push(j);
        scales.push(norm);
    }

    // Householder QR with column pivoting; after step k, columns[..k] hold R above the diagonal.
    let n_active = columns.len();
    let mut rank = 0;
    for k in 0..n_active.min(n_rows) {
        let remaining_norm =
            |column: &Vec<f64>| column[k..].iter().map(|value| value * value).sum::<f64>();
        let (pivot, pivot_norm) = (k..n_active)
            .map(|j| (j, remaining_norm(&columns[j])))
            .fold((k, -1.0), |best, candidate| {
                if candidate.1 > best.1 {
                    candidate
                } else {
                    best
                }
            });
        let pivot_norm = pivot_norm.sqrt();
        if pivot_norm <= RANK_TOLERANCE {
            break;
        }
        columns.swap(k, pivot);
        original.swap(k, pivot);
        scales.swap(k, pivot);
        // Reflect x = column[k..] onto alpha·e1, choosing alpha's sign to avoid cancellation.
        let alpha = if columns[k][k] > 0.0 {
            -pivot_norm
        } else {
            pivot_norm
        };
        let mut householder = columns[k][k..].to_vec();
        householder[0] -= alpha;
        let householder_norm2: f64 = householder.iter().map(|value| value * value).sum();
        if householder_norm2 > 0.0 {
            let reflect = |target: &mut [f64]| {
                let dot: f64 = householder
                    .iter()
                    .zip(target.iter())
                    .map(|(h, t)| h * t)
                    .sum();
                let factor = 2.0 * dot / householder_norm2;
                for (t, h) in target.iter_mut().zip(&householder) {
                    *t -= factor * h;
                }
            };
            for column in columns.iter_mut().skip(k + 1) {
                reflect(&mut column[k..]);
            }
            reflect(&mut residual[k..]);
        }
        columns[k][k] = alpha;
        rank = k + 1;
    }

    // Back substitution on the leading rank × rank triangle; aliased columns keep weight 0.
    let mut coefficients = vec![0.0; rank];
    for i in (0..rank).rev() {
        let mut value = residual[i];
        for (j, coefficient) in coefficients.iter().enumerate().skip(i + 1) {
            value -= columns[j][i] * coefficient;
        }
        coefficients[i] = value / columns[i][i];
    }
    let mut weights = vec![0.0; n_cols];
    for (k, coefficient) in coefficients.iter().enumerate() {
        weights[original[k]] = coefficient / scales[k];
    }
    let intercept = y_mean
        - weights
            .iter()
            .zip(&means)
            .map(|(weight, mean)| weight * mean)
            .sum::<f64>();
    Ok(Linear { intercept, weights })
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;

    fn random_columns(n_rows: usize, n_cols: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n_cols)
            .map(|j| {
                (0..n_rows)
                    .map(|_| rng.gen::<f64>() * (j as f64 + 1.0) * 10.0)
                    .collect()
            })
            .collect()
    }

    fn target(x: &Matrix, intercept: f64, weights: &[f64]) -> Vec<f64> {
        (0..x.n_rows)
            .map(|i| {
                intercept
                    + weights
                        .iter()
                        .zip(x.row(i))
                        .map(|(w, v)| w * v)
                        .sum::<f64>()
            })
            .collect()
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-8 * (1.0 + expected.abs()),
            "{actual} != {expected}"
        );
    }

    #[test]
    fn recovers_exact_coefficients_on_noiseless_data() {
        let x = Matrix::from_columns(&random_columns(200, 4, 1));
        let weights = [2.0, -0.5, 0.0, 4.25];
        let model = fit_linear(&x, &target(&x, 3.0, &weights)).expect("fit");
        assert_close(model.intercept, 3.0);
        for (actual, expected) in model.weights.iter().zip(weights) {
            assert_close(*actual, expected);
        }
    }

    #[test]
    fn constant_column_gets_zero_weight() {
        let mut columns = random_columns(100, 3, 2);
        columns.insert(1, vec![7.0; 100]);
        let x = Matrix::from_columns(&columns);
        let y = target(&x, -1.0, &[1.5, 0.0, 2.0, -3.0]);
        let model = fit_linear(&x, &y).expect("fit");
        assert_eq!(model.weights[1], 0.0);
        assert_close(model.intercept, -1.0);
        assert_close(model.weights[0], 1.5);
        assert_close(model.weights[3], -3.0);
    }

    #[test]
    fn collinear_column_is_dropped_and_fit_stays_exact() {
        let mut columns = random_columns(100, 2, 3);
        let sum: Vec<f64> = columns[0]
            .iter()
            .zip(&columns[1])
            .map(|(a, b)| a + 2.0 * b)
            .collect();
        columns.push(sum);
        let x = Matrix::from_columns(&columns);
        let y = target(&x, 0.5, &[1.0, 1.0, 1.0]);
        let model = fit_linear(&x, &y).expect("fit");
        assert_eq!(
            model
                .weights
                .iter()
                .filter(|weight| **weight == 0.0)
                .count(),
            1
        );
        for (prediction, truth) in model.predict(&x).iter().zip(&y) {
            assert_close(*prediction, *truth);
        }
    }

    #[test]
    fn only_constant_columns_give_the_mean() {
        let x = Matrix::new(3, 2, vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        let model = fit_linear(&x, &[1.0, 2.0, 6.0]).expect("fit");
        assert_eq!(model.weights, [0.0, 0.0]);
        assert_close(model.intercept, 3.0);
    }

    #[test]
    fn fewer_rows_than_features_still_interpolates() {
        let x = Matrix::from_columns(&random_columns(3, 5, 4));
        let y = [1.0, -2.0, 0.5];
        let model = fit_linear(&x, &y).expect("fit");
        for (prediction, truth) in model.predict(&x).iter().zip(&y) {
            assert_close(*prediction, *truth);
        }
    }

    #[test]
    fn matches_the_normal_equations_on_noisy_data() {
        // One feature: slope = cov(x, y) / var(x).
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let xs: Vec<f64> = (0..500).map(|_| rng.gen::<f64>()).collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|v| 2.0 * v + rng.gen::<f64>() - 0.5)
            .collect();
        let (mx, my) = (
            xs.iter().sum::<f64>() / 500.0,
            y.iter().sum::<f64>() / 500.0,
        );
        let cov: f64 = xs.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let var: f64 = xs.iter().map(|a| (a - mx).powi(2)).sum();
        let model = fit_linear(&Matrix::from_columns(&[xs]), &y).expect("fit");
        assert_close(model.weights[0], cov / var);
        assert_close(model.intercept, my - cov / var * mx);
    }

    #[test]
    fn rejects_bad_input() {
        let x = Matrix::new(2, 1, vec![1.0, 2.0]);
        assert_eq!(
            fit_linear(&x, &[1.0]),
            Err(LinearError::LengthMismatch {
                rows: 2,
                targets: 1
            })
        );
        assert_eq!(
            fit_linear(&Matrix::new(0, 1, vec![]), &[]),
            Err(LinearError::NoRows)
        );
        assert_eq!(
            fit_linear(&x, &[1.0, f64::NAN]),
            Err(LinearError::NonFiniteTarget { row: 1 })
        );
        let bad = Matrix::new(2, 2, vec![1.0, 2.0, f64::INFINITY, 0.0]);
        assert_eq!(
            fit_linear(&bad, &[1.0, 2.0]),
            Err(LinearError::NonFiniteFeature { row: 1, feature: 0 })
        );
    }

    #[test]
    fn json_round_trip_keeps_predictions() {
        let x = Matrix::from_columns(&random_columns(20, 2, 6));
        let model = fit_linear(&x, &target(&x, 1.0, &[0.3, -0.7])).expect("fit");
        let back: Linear = serde_json::from_str(&serde_json::to_string(&model).expect("serialise"))
            .expect("parse");
        assert_eq!(back.predict(&x), model.predict(&x));
    }

    /// An independent oracle: linfa-linear's OLS on the same random design gives the same
    /// intercept and weights.
    #[test]
    fn coefficients_match_linfa_linear() {
        use linfa::traits::Fit;
        use linfa::Dataset;

        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let (n, d) = (500, 4);
        let data: Vec<f64> = (0..n * d).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let row = &data[i * d..(i + 1) * d];
                1.5 + 2.0 * row[0] - 0.5 * row[1] + 0.25 * row[3] + rng.gen_range(-0.3..0.3)
            })
            .collect();
        let ours = fit_linear(&Matrix::new(n, d, data.clone()), &y).unwrap();
        let records = ndarray::Array2::from_shape_vec((n, d), data).unwrap();
        let targets = ndarray::Array1::from_vec(y);
        let theirs = linfa_linear::LinearRegression::new()
            .fit(&Dataset::new(records, targets))
            .unwrap();
        assert!(
            (ours.intercept - theirs.intercept()).abs() < 1e-9,
            "{} vs {}",
            ours.intercept,
            theirs.intercept()
        );
        for (j, (a, b)) in ours.weights.iter().zip(theirs.params().iter()).enumerate() {
            assert!((a - b).abs() < 1e-9, "weight {j}: {a} vs {b}");
        }
    }
}
