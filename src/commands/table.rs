//! Building output tables and reading input columns for commands: the table builder and the
//! column readers live in [`crate::frame`] (domain modules use them too); the model feature
//! matrix is read here.

use anyhow::Result;
use polars::prelude::*;

pub(crate) use crate::frame::Table;
pub use crate::frame::{f64_column, i64_column, str_column};
use crate::learn::matrix::Matrix;

/// The model feature matrix: the named columns of `table`, every value checked finite.
pub(crate) fn feature_matrix(table: &DataFrame, names: &[String]) -> Result<Matrix> {
    let columns: Vec<Vec<f64>> = names
        .iter()
        .map(|name| f64_column(table, name))
        .collect::<Result<_>>()?;
    for (name, column) in names.iter().zip(&columns) {
        if let Some(row) = column.iter().position(|v| !v.is_finite()) {
            return Err(crate::error::user_error(format!(
                "customer_features column {name} has a non-finite value in row {row}: cannot train on it"
            )));
        }
    }
    Ok(Matrix::from_columns(&columns))
}
