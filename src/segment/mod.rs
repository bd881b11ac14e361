//! Customer segmentation (SPEC §6): feature transform, k-means over a range of k, cluster
//! quality metrics, k selection by silhouette, and persona names derived from the numbers;
//! [`segmentation`] runs them in order on `customer_features`, [`tables`] writes the outcome.

pub mod kmeans;
pub mod metrics;
pub(crate) mod personas;
pub(crate) mod profiles;
mod scaling;
pub(crate) mod segmentation;
pub(crate) mod sweep;
pub(crate) mod tables;

pub use scaling::Transform;

use crate::learn::matrix::Matrix;

/// Applies the configured transform column by column: `log1p` (of values clamped at 0, as
/// every segmentation feature is a non-negative amount) then z-score, z-score alone, or none.
/// The z-score uses the population standard deviation (ddof = 0, as scikit-learn's
/// `StandardScaler`); a constant column becomes 0.
pub(crate) fn transform(columns: &[Vec<f64>], transform: Transform) -> Matrix {
    let transformed: Vec<Vec<f64>> = columns
        .iter()
        .map(|column| {
            let values: Vec<f64> = match transform {
                Transform::Log1pZscore => column.iter().map(|v| v.max(0.0).ln_1p()).collect(),
                Transform::Zscore | Transform::None => column.clone(),
            };
            if transform == Transform::None {
                return values;
            }
            zscore(&values)
        })
        .collect();
    Matrix::from_columns(&transformed)
}

/// Population z-score; a constant column maps to zeros.
pub(crate) fn zscore(values: &[f64]) -> Vec<f64> {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt();
    if std == 0.0 || !std.is_finite() {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - mean) / std).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log1p_zscore_standardises() {
        let m = transform(&[vec![0.0, 1.0, 3.0, 7.0]], Transform::Log1pZscore);
        let column = m.column(0);
        let mean: f64 = column.iter().sum::<f64>() / 4.0;
        let var: f64 = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        // log1p(0,1,3,7) = ln(1,2,4,8) is evenly spaced.
        assert!((column[1] - column[0] - (column[2] - column[1])).abs() < 1e-12);
    }

    #[test]
    fn constant_column_is_zero() {
        assert_eq!(zscore(&[5.0, 5.0]), vec![0.0, 0.0]);
        let m = transform(&[vec![2.0, 4.0]], Transform::None);
        assert_eq!(m.column(0), vec![2.0, 4.0]);
    }
}
