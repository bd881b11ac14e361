//! A dense, row-major matrix of finite `f64` features: the one input type of every learner.

use serde::{Deserialize, Serialize};

/// Dense row-major feature matrix. Every value is finite (callers check before building one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub n_rows: usize,
    pub n_cols: usize,
    /// `n_rows * n_cols` values, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// Builds a matrix from row-major data; panics if the length does not match the shape.
    pub fn new(n_rows: usize, n_cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(
            data.len(),
            n_rows * n_cols,
            "matrix data does not match its shape"
        );
        Self {
            n_rows,
            n_cols,
            data,
        }
    }

    /// Builds a matrix from columns of equal length.
    pub fn from_columns(columns: &[Vec<f64>]) -> Self {
        let n_cols = columns.len();
        let n_rows = columns.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(n_rows * n_cols);
        for i in 0..n_rows {
            for column in columns {
                data.push(column[i]);
            }
        }
        Self {
            n_rows,
            n_cols,
            data,
        }
    }

    /// The features of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// Value at row `i`, column `j`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n_cols + j]
    }

    /// A new matrix holding the given rows, in the given order.
    pub(crate) fn select_rows(&self, rows: &[usize]) -> Self {
        let mut data = Vec::with_capacity(rows.len() * self.n_cols);
        for &i in rows {
            data.extend_from_slice(self.row(i));
        }
        Self {
            n_rows: rows.len(),
            n_cols: self.n_cols,
            data,
        }
    }

    /// Column `j` copied out.
    pub fn column(&self, j: usize) -> Vec<f64> {
        (0..self.n_rows).map(|i| self.get(i, j)).collect()
    }
}
