//! Reading stored tables into plain vectors: the one set of column readers every layer uses
//! (commands reading their inputs, the report assembling the dashboard).

use anyhow::Result;
use polars::prelude::*;

/// Reads a column as `f64` whatever its numeric type.
pub fn f64_column(table: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = table.column(name)?.cast(&DataType::Float64)?;
    Ok(column
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Reads an `i64` column.
pub fn i64_column(table: &DataFrame, name: &str) -> Result<Vec<i64>> {
    Ok(table
        .column(name)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or_default())
        .collect())
}

/// Reads a text column (nulls as empty text).
pub fn str_column(table: &DataFrame, name: &str) -> Result<Vec<String>> {
    Ok(table
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// Reads a nullable numeric column as `Option<f64>` (null and NaN → `None`).
pub(crate) fn opt_f64_column(table: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let column = table.column(name)?.cast(&DataType::Float64)?;
    Ok(column
        .f64()?
        .iter()
        .map(|v| v.filter(|v| !v.is_nan()))
        .collect())
}

/// Reads a boolean column (nulls as `false`).
pub(crate) fn bool_column(table: &DataFrame, name: &str) -> Result<Vec<bool>> {
    Ok(table
        .column(name)?
        .bool()?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
}
