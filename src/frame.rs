//! Reading stored tables into plain vectors and building output tables: the one set of column
//! readers, the model feature matrix and the one table builder every layer uses (commands
//! reading their inputs and writing their outputs, domain modules assembling their tables, the
//! report assembling the dashboard).

use anyhow::Result;
use polars::prelude::*;

use crate::learn::matrix::Matrix;

/// Reads a column as `f64` whatever its numeric type.
pub(crate) fn f64_column(table: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = table.column(name)?.cast(&DataType::Float64)?;
    Ok(column
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Reads an `i64` column.
pub(crate) fn i64_column(table: &DataFrame, name: &str) -> Result<Vec<i64>> {
    Ok(table
        .column(name)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or_default())
        .collect())
}

/// Reads a text column (nulls as empty text).
pub(crate) fn str_column(table: &DataFrame, name: &str) -> Result<Vec<String>> {
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

/// An output table under construction, one named column at a time, in the order written.
///
/// ```ignore
/// let table = Table::new(rows.len())
///     .col("k", rows.iter().map(|r| r.k as i64))
///     .col("silhouette", rows.iter().map(|r| r.silhouette))
///     .build()?;
/// ```
pub(crate) struct Table {
    height: usize,
    columns: Vec<Column>,
}

impl Table {
    /// A table of `height` rows; every column must have that many values.
    pub(crate) fn new(height: usize) -> Self {
        Self {
            height,
            columns: Vec::new(),
        }
    }

    /// Appends column `name` holding `values` (integers, floats, booleans or text).
    pub(crate) fn col<T, I>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = T>,
        Series: NamedFrom<Vec<T>, [T]>,
    {
        let values: Vec<T> = values.into_iter().collect();
        self.columns.push(Column::new(name.into(), values));
        self
    }

    /// Appends a column built elsewhere (e.g. all null, of a given type).
    pub(crate) fn column(mut self, column: Column) -> Self {
        self.columns.push(column);
        self
    }

    /// The table; an error if a column's length differs from the height.
    pub(crate) fn build(self) -> Result<DataFrame> {
        Ok(DataFrame::new(self.height, self.columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_typed_columns_in_order() {
        let table = Table::new(2)
            .col("id", [1i64, 2])
            .col("value", [0.5f64, 1.5])
            .col("flag", [true, false])
            .col("name", ["a", "b"])
            .build()
            .unwrap();
        let names: Vec<&str> = table
            .get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect();
        assert_eq!(names, vec!["id", "value", "flag", "name"]);
        assert_eq!(i64_column(&table, "id").unwrap(), vec![1, 2]);
        assert_eq!(f64_column(&table, "id").unwrap(), vec![1.0, 2.0]);
        assert_eq!(f64_column(&table, "value").unwrap(), vec![0.5, 1.5]);
        assert_eq!(str_column(&table, "name").unwrap(), vec!["a", "b"]);
        assert_eq!(
            table.column("flag").unwrap().bool().unwrap().get(1),
            Some(false)
        );
    }

    #[test]
    fn a_column_of_the_wrong_length_is_an_error() {
        assert!(Table::new(3).col("id", [1i64, 2]).build().is_err());
    }
}
