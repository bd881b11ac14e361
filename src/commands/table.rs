//! Building output tables and reading input columns for commands: the table builder, the
//! column readers and the model feature matrix live in [`crate::frame`] (domain modules use
//! them too).

pub(crate) use crate::frame::{f64_column, i64_column};
pub(crate) use crate::frame::{feature_matrix, Table};
