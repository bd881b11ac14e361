//! Descriptive statistics for EDA: pandas-style `describe`, linear-interpolation quantiles
//! (numpy's default) and the 1.5·IQR outlier rule.

use serde::Serialize;

/// Quantile `q` of sorted, finite values by linear interpolation between order statistics
/// (numpy `method="linear"`, pandas' default).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let fraction = position - low as f64;
    sorted[low] + (sorted[high] - sorted[low]) * fraction
}

/// `describe()` of one numeric column.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct Describe {
    pub column: String,
    pub count: usize,
    pub nulls: usize,
    pub mean: f64,
    /// Sample standard deviation (ddof = 1), as pandas.
    pub std: f64,
    pub min: f64,
    pub q25: f64,
    pub median: f64,
    pub q75: f64,
    pub max: f64,
}

/// Describes a column; NaN values count as nulls.
pub(crate) fn describe(column: &str, values: &[f64]) -> Describe {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let count = sorted.len();
    let mean = if count == 0 {
        f64::NAN
    } else {
        sorted.iter().sum::<f64>() / count as f64
    };
    let std = if count < 2 {
        f64::NAN
    } else {
        (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64).sqrt()
    };
    Describe {
        column: column.to_string(),
        count,
        nulls: values.len() - count,
        mean,
        std,
        min: sorted.first().copied().unwrap_or(f64::NAN),
        q25: quantile_sorted(&sorted, 0.25),
        median: quantile_sorted(&sorted, 0.5),
        q75: quantile_sorted(&sorted, 0.75),
        max: sorted.last().copied().unwrap_or(f64::NAN),
    }
}

/// The 1.5·IQR rule on one column.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct Outliers {
    pub column: String,
    pub q1: f64,
    pub q3: f64,
    pub iqr: f64,
    pub lower_fence: f64,
    pub upper_fence: f64,
    pub high: usize,
    pub low: usize,
}

/// Counts values outside `[Q1 − 1.5·IQR, Q3 + 1.5·IQR]`.
pub(crate) fn iqr_outliers(column: &str, values: &[f64]) -> Outliers {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let q1 = quantile_sorted(&sorted, 0.25);
    let q3 = quantile_sorted(&sorted, 0.75);
    let iqr = q3 - q1;
    let lower_fence = q1 - 1.5 * iqr;
    let upper_fence = q3 + 1.5 * iqr;
    Outliers {
        column: column.to_string(),
        q1,
        q3,
        iqr,
        lower_fence,
        upper_fence,
        high: sorted.iter().filter(|&&v| v > upper_fence).count(),
        low: sorted.iter().filter(|&&v| v < lower_fence).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // numpy.quantile([1,2,3,4], [0.25, 0.5, 0.75]) == [1.75, 2.5, 3.25]
        assert_eq!(quantile_sorted(&v, 0.25), 1.75);
        assert_eq!(quantile_sorted(&v, 0.5), 2.5);
        assert_eq!(quantile_sorted(&v, 0.75), 3.25);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }

    #[test]
    fn describe_matches_pandas() {
        let d = describe("x", &[1.0, 2.0, 3.0, 4.0, f64::NAN]);
        assert_eq!(d.count, 4);
        assert_eq!(d.nulls, 1);
        assert_eq!(d.mean, 2.5);
        assert!((d.std - 1.290_994_448_735_805_6).abs() < 1e-15);
    }

    #[test]
    fn iqr_rule() {
        let o = iqr_outliers("x", &[1.0, 2.0, 3.0, 4.0, 100.0]);
        // Q1 = 2, Q3 = 4, fence 7.
        assert_eq!(o.upper_fence, 7.0);
        assert_eq!(o.high, 1);
        assert_eq!(o.low, 0);
    }
}
