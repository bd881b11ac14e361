//! The store: where every stage reads its inputs and writes its outputs. Two implementations
//! hold the same tables with the same columns and values: an embedded Parquet warehouse (one
//! file per table, the default) and a PostgreSQL schema.
//!
//! Replacing a table is atomic in both: a failed or killed stage leaves the previous table.

pub mod lock;
pub mod parquet;
pub mod postgres;
pub mod schema;

use anyhow::Result;
use polars::prelude::DataFrame;

use crate::config::{Config, StoreKind};

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
    /// The PostgreSQL client, when this store is PostgreSQL (for push-down SQL).
    fn postgres(&mut self) -> Option<&mut ::postgres::Client> {
        None
    }
}

/// Opens the configured store and takes its lock for the duration of the run.
pub fn open(config: &Config) -> Result<Box<dyn Store>> {
    match config.store.kind {
        StoreKind::Parquet => Ok(Box::new(parquet::ParquetStore::open(
            &config.store.path,
            config.store.lock_timeout_secs,
        )?)),
        StoreKind::Postgres => Ok(Box::new(postgres::PostgresStore::open(
            &config.store.url,
            &config.store.schema,
            config.store.lock_timeout_secs,
        )?)),
    }
}

/// The stage that produces each table, for "run this first" messages.
pub fn producing_stage(table: &str) -> &'static str {
    match table {
        "transactions" | "social_edges" | "merchants" | "ingest_report" => "ingest",
        "customer_features" => "eda",
        "customer_segments" | "segment_profiles" | "k_selection" => "segment",
        "model_grid"
        | "model_comparison"
        | "cashback_predictions"
        | "cashback_feature_importance"
        | "merchant_cashback" => "train",
        "cashback_shap_importance" | "cashback_shap_values" | "cashback_explanations" => "explain",
        "offers" | "offer_features" | "offers_truth" => {
            "simulate-offers (or uplift with [offers] log)"
        }
        "uplift_predictions" | "uplift_metrics" | "uplift_curve" => "uplift",
        _ => "run-all",
    }
}
