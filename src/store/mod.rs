//! The store: where every stage reads its inputs and writes its outputs. Two implementations
//! hold the same tables with the same columns and values: an embedded Parquet warehouse (one
//! file per table, the default) and a PostgreSQL schema. A third kind, Spark, is the Parquet
//! warehouse (with `transactions` in several files) plus a Spark cluster that runs the
//! push-down SQL over it through Spark Connect.
//!
//! Replacing a table is atomic in both: a failed or killed stage leaves the previous table.

pub mod lock;
mod names;
pub mod parquet;
pub mod postgres;
pub(crate) mod schema;
pub(crate) mod spark;

pub(crate) use names::{is_identifier, redact_url};

use anyhow::Result;
use polars::prelude::DataFrame;

use crate::config::{StoreConfig, StoreKind};

/// A place that holds named tables.
pub trait Store: Send {
    /// "parquet" or "postgres".
    fn kind(&self) -> &'static str;
    /// Where the tables live, for messages (never contains a password).
    fn location(&self) -> String;
    /// Replaces table `name` with `table`, atomically.
    fn write_table(&mut self, name: &str, table: &DataFrame) -> Result<()>;
    /// Reads table `name`; a missing table is a user error naming the stage that makes it.
    fn read_table(&mut self, name: &str) -> Result<DataFrame>;
    /// Reads only the given columns of table `name`, in the given order (a stage that needs
    /// four of a large table's ten columns should not pay for the rest); errors as
    /// [`Store::read_table`], and an unknown column is an error naming it.
    fn read_columns(&mut self, name: &str, columns: &[&str]) -> Result<DataFrame>;
    /// True when table `name` exists.
    fn has_table(&mut self, name: &str) -> Result<bool>;
    /// An SQL engine over this store's tables, for push-down work; None when the store has
    /// none (the Parquet warehouse: polars does that work in-process).
    fn sql_runner(&mut self) -> Result<Option<Box<dyn SqlRunner + '_>>> {
        Ok(None)
    }
}

/// The SQL dialect a runner speaks, so that the push-down picks its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlDialect {
    Postgres,
    Spark,
}

/// Runs SQL text next to the stored tables and returns results as tables: the push-down
/// path's only view of an engine (PostgreSQL or Spark). One runner is one unit of work: its
/// temporary tables live until [`SqlRunner::finish`].
pub trait SqlRunner {
    /// The dialect of [`SqlRunner::query`]'s text.
    fn dialect(&self) -> SqlDialect {
        SqlDialect::Postgres
    }
    /// How SQL names stored table `table`.
    fn table_ref(&self, table: &str) -> String;
    /// Loads `table` (shaped as `def`) as a temporary table named `def.name`.
    fn load_temp(&mut self, def: &schema::TableDef, table: &DataFrame) -> Result<()>;
    /// Runs `sql`, whose result has the columns of `def`, and returns it.
    fn query(&mut self, sql: &str, def: &schema::TableDef) -> Result<DataFrame>;
    /// Ends the unit of work (temporary tables go).
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Opens the configured store and takes its lock until the returned store is dropped: one
/// session for a whole command line (`run-all` included).
pub fn open(settings: &StoreConfig) -> Result<Box<dyn Store>> {
    match settings.kind {
        StoreKind::Parquet => Ok(Box::new(parquet::ParquetStore::open(
            &settings.path,
            settings.lock_timeout_secs,
        )?)),
        StoreKind::Postgres => Ok(Box::new(postgres::PostgresStore::open(
            &settings.url,
            &settings.schema,
            settings.lock_timeout_secs,
        )?)),
        StoreKind::Spark => Ok(Box::new(spark::SparkStore::open(settings)?)),
    }
}

/// The stage that produces each table, for "run this first" messages.
pub(crate) fn producing_stage(table: &str) -> &'static str {
    match table {
        "transactions" | "social_edges" | "merchants" | "ingest_report" => "ingest",
        "customer_features" => "eda",
        "customer_value" | "clv_model" | "clv_holdout" => "clv",
        "customer_segments" | "segment_profiles" | "k_selection" => "segment",
        "model_grid"
        | "model_comparison"
        | "cashback_predictions"
        | "cashback_feature_importance"
        | "merchant_cashback" => "train",
        "cashback_shap_importance"
        | "cashback_shap_values"
        | "cashback_explanations"
        | "uplift_explanations"
        | "uplift_shap_importance" => "explain",
        "budget_allocation"
        | "budget_curve"
        | "budget_curve_arms"
        | "budget_flat_policies"
        | "budget_summary" => "allocate",
        "offers" | "offer_features" | "offers_truth" => {
            "simulate-offers (or uplift with [offers] log)"
        }
        "uplift_predictions" | "uplift_metrics" | "uplift_curve" => "uplift",
        _ => "run-all",
    }
}
