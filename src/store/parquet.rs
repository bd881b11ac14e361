//! The embedded store: a folder of Parquet files, `<path>/<table>.parquet`.
//!
//! A table is written to a temporary file in the same folder, flushed to disk and renamed over
//! the old one, so a reader (or a crash) only ever sees the old or the new table.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

use super::lock::LockFile;
use super::{producing_stage, schema, Store};
use crate::error::user_error;

/// Parquet warehouse folder with its run lock.
pub struct ParquetStore {
    root: PathBuf,
    _lock: LockFile,
}

impl ParquetStore {
    /// Reads table `name`, all columns or the given ones.
    fn read(&mut self, name: &str, columns: Option<Vec<String>>) -> Result<DataFrame> {
        let path = self.table_path(name);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(user_error(format!(
                    "table {name} is not in the warehouse {} yet: run `fluz {}` first",
                    self.root.display(),
                    producing_stage(name)
                )))
            }
            Err(err) => return Err(err).with_context(|| format!("cannot open {}", path.display())),
        };
        ParquetReader::new(file)
            .with_columns(columns)
            .finish()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot read table {name} from {}", path.display()))
    }

    /// Creates the folder if needed and takes its lock.
    pub fn open(root: &Path, lock_timeout_secs: u64) -> Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create warehouse folder {}", root.display()))?;
        let lock = LockFile::acquire(root, lock_timeout_secs)?;
        // Temporary files of a run that was killed mid-write: never renamed into place, so no
        // table refers to them; with the lock held no other run is writing them.
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.contains(".parquet.tmp-") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// The file holding table `name`.
    pub fn table_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.parquet"))
    }
}

impl Store for ParquetStore {
    fn kind(&self) -> &'static str {
        "parquet"
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn write_table(&mut self, name: &str, table: &DataFrame) -> Result<()> {
        schema::check(schema::table(name)?, table)?;
        let started = std::time::Instant::now();
        let path = self.table_path(name);
        let result = crate::fsutil::write_atomic_with(&path, |writer| {
            let mut table = table.clone();
            ParquetWriter::new(writer)
                .with_compression(ParquetCompression::Zstd(None))
                .with_statistics(StatisticsOptions::default())
                .finish(&mut table)
                .map(|_| ())
                .map_err(anyhow::Error::from)
        });
        if result.is_ok() {
            tracing::debug!(
                "parquet: wrote {name} ({} rows) in {:.3}s",
                table.height(),
                started.elapsed().as_secs_f64()
            );
        }
        result
    }

    fn read_table(&mut self, name: &str) -> Result<DataFrame> {
        self.read(name, None)
    }

    fn read_columns(&mut self, name: &str, columns: &[&str]) -> Result<DataFrame> {
        let projected = schema::projection(name, columns)?;
        let names = projected.columns.into_iter().map(|c| c.name).collect();
        self.read(name, Some(names))
    }

    fn has_table(&mut self, name: &str) -> Result<bool> {
        Ok(self.table_path(name).exists())
    }
}
