//! The embedded store: a folder of Parquet files, `<path>/<table>.parquet`.
//!
//! A table is written to a temporary file in the same folder, flushed to disk and renamed over
//! the old one, so a reader (or a crash) only ever sees the old or the new table.
//!
//! A table may instead be written as several files, `<path>/<table>.parquet/part-NNNNN.parquet`
//! (a folder, the layout Spark and other engines read as one table), so that a cluster's
//! executors split the scan: see [`ParquetStore::with_parts`]. Reading takes either layout, so
//! every store kind reads every warehouse. A folder replaces the old table in two renames
//! (old aside to `.<table>.parquet.old-<pid>`, new in place); a run killed between them leaves
//! the old table aside, and the next open puts it back.

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
    /// Tables written as several files, and how many.
    parts: Vec<(String, usize)>,
    _lock: LockFile,
}

impl ParquetStore {
    /// Reads table `name`, all columns or the given ones.
    fn read(&mut self, name: &str, columns: Option<Vec<String>>) -> Result<DataFrame> {
        let path = self.table_path(name);
        if path.is_dir() {
            return read_parts(&path, columns)
                .with_context(|| format!("cannot read table {name} from {}", path.display()));
        }
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
        // table refers to them; with the lock held no other run is writing them. A table set
        // aside by a run killed between its two renames goes back in place.
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.contains(".parquet.tmp-") {
                    remove_any(&entry.path());
                } else if let Some(table) = name
                    .strip_prefix('.')
                    .and_then(|rest| rest.split_once(".parquet.old-"))
                    .map(|(table, _)| table)
                {
                    let home = root.join(format!("{table}.parquet"));
                    if home.exists() {
                        remove_any(&entry.path());
                    } else {
                        std::fs::rename(entry.path(), &home).with_context(|| {
                            format!("cannot restore table {table} in {}", root.display())
                        })?;
                    }
                }
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            parts: Vec::new(),
            _lock: lock,
        })
    }

    /// Writes table `name` as `files` Parquet files (fewer when it has fewer rows) in a folder
    /// `<table>.parquet/`, rows in order, so that an engine's executors can split the scan.
    /// Reading it gives the same table as the single-file layout.
    pub(crate) fn with_parts(mut self, name: &str, files: usize) -> Self {
        self.parts.retain(|(table, _)| table != name);
        if files > 1 {
            self.parts.push((name.to_string(), files));
        }
        self
    }

    /// Writes `table` as a folder of `files` parts (or one file when `files` is 1) through a
    /// temporary name, then swaps it in for whatever held the table before (file or folder).
    fn write_parts(&self, name: &str, table: &DataFrame, files: usize) -> Result<()> {
        let path = self.table_path(name);
        let pid = std::process::id();
        let tmp = self.root.join(format!(".{name}.parquet.tmp-{pid}"));
        remove_any(&tmp);
        let result = (|| -> Result<()> {
            if files == 1 {
                // The single-file layout replacing a folder: one file, swapped in the same way.
                write_file(&tmp, table)?;
            } else {
                std::fs::create_dir(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                let rows = table.height();
                let files = files.clamp(1, rows.max(1));
                let per_file = rows.div_ceil(files).max(1);
                for part in 0..files {
                    let slice = table.slice((part * per_file) as i64, per_file);
                    write_file(&tmp.join(format!("part-{part:05}.parquet")), &slice)?;
                }
                sync_dir(&tmp);
            }
            if path.exists() {
                let aside = self.root.join(format!(".{name}.parquet.old-{pid}"));
                remove_any(&aside);
                std::fs::rename(&path, &aside)
                    .with_context(|| format!("cannot move {} aside", path.display()))?;
                if let Err(err) = std::fs::rename(&tmp, &path) {
                    let _ = std::fs::rename(&aside, &path);
                    return Err(err).with_context(|| format!("cannot replace {}", path.display()));
                }
                sync_dir(&self.root);
                remove_any(&aside);
            } else {
                std::fs::rename(&tmp, &path)
                    .with_context(|| format!("cannot replace {}", path.display()))?;
                sync_dir(&self.root);
            }
            Ok(())
        })();
        if result.is_err() {
            remove_any(&tmp);
        }
        result
    }

    /// The file holding table `name`.
    pub(crate) fn table_path(&self, name: &str) -> PathBuf {
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
        let files = self
            .parts
            .iter()
            .find(|(table, _)| table == name)
            .map_or(1, |(_, files)| *files);
        let result = if files > 1 || path.is_dir() {
            self.write_parts(name, table, files)
        } else {
            crate::fsutil::write_atomic_with(&path, |writer| {
                let mut table = table.clone();
                parquet_writer(writer)
                    .finish(&mut table)
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            })
        };
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

/// Writes `table` to a new file at `path` and syncs it.
fn write_file(path: &Path, table: &DataFrame) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut table = table.clone();
    parquet_writer(&mut writer)
        .finish(&mut table)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .into_inner()
        .map_err(|err| err.into_error())
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot flush {}", path.display()))
}

fn parquet_writer<W: std::io::Write>(writer: W) -> ParquetWriter<W> {
    ParquetWriter::new(writer)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
}

/// Reads a table written as a folder of parts: its `*.parquet` files in name order (files
/// starting with `.` or `_`, an engine's own, are not data), rows concatenated.
fn read_parts(folder: &Path, columns: Option<Vec<String>>) -> Result<DataFrame> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| {
                    name.ends_with(".parquet") && !name.starts_with('.') && !name.starts_with('_')
                })
        })
        .collect();
    files.sort();
    let mut table: Option<DataFrame> = None;
    for path in &files {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let part = ParquetReader::new(file)
            .with_columns(columns.clone())
            .finish()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot read {}", path.display()))?;
        match table.as_mut() {
            None => table = Some(part),
            Some(table) => {
                table.vstack_mut(&part)?;
            }
        }
    }
    let mut table = table
        .ok_or_else(|| anyhow::anyhow!("the folder {} holds no Parquet file", folder.display()))?;
    table.rechunk_mut();
    Ok(table)
}

fn remove_any(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

fn sync_dir(folder: &Path) {
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_in_parts_reads_back_whole_and_replaces_either_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let table = DataFrame::new(
            10,
            vec![
                Column::new(
                    "source".into(),
                    (0..10).map(|i| format!("s{i}")).collect::<Vec<_>>(),
                ),
                Column::new("step".into(), vec!["raw"; 10]),
                Column::new("rows".into(), (0..10i64).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        let mut single = ParquetStore::open(root, 0).unwrap();
        single.write_table("ingest_report", &table).unwrap();
        assert!(root.join("ingest_report.parquet").is_file());
        drop(single);
        let mut split = ParquetStore::open(root, 0)
            .unwrap()
            .with_parts("ingest_report", 4);
        split.write_table("ingest_report", &table).unwrap();
        let folder = root.join("ingest_report.parquet");
        assert!(folder.is_dir());
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 4);
        assert!(split.read_table("ingest_report").unwrap().equals(&table));
        let projected = split
            .read_columns("ingest_report", &["rows", "source"])
            .unwrap();
        assert!(projected.equals(&table.select(["rows", "source"]).unwrap()));
        // More parts than rows: one row a file.
        let three = table.head(Some(3));
        split.write_table("ingest_report", &three).unwrap();
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 3);
        assert!(split.read_table("ingest_report").unwrap().equals(&three));
        drop(split);
        // The single-file layout replaces the folder, and nothing else is left behind.
        let mut single = ParquetStore::open(root, 0).unwrap();
        single.write_table("ingest_report", &table).unwrap();
        assert!(folder.is_file());
        assert!(single.read_table("ingest_report").unwrap().equals(&table));
        let names: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != ".fluz.lock")
            .collect();
        assert_eq!(names, vec!["ingest_report.parquet"]);
    }

    #[test]
    fn a_table_set_aside_by_a_killed_run_comes_back_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let table = DataFrame::new(
            2,
            vec![
                Column::new("source".into(), vec!["a", "b"]),
                Column::new("step".into(), vec!["raw", "raw"]),
                Column::new("rows".into(), vec![1i64, 2]),
            ],
        )
        .unwrap();
        let mut store = ParquetStore::open(root, 0)
            .unwrap()
            .with_parts("ingest_report", 2);
        store.write_table("ingest_report", &table).unwrap();
        drop(store);
        // Killed after moving the old folder aside, before the new one went in.
        std::fs::rename(
            root.join("ingest_report.parquet"),
            root.join(".ingest_report.parquet.old-99999"),
        )
        .unwrap();
        std::fs::create_dir(root.join(".ingest_report.parquet.tmp-99999")).unwrap();
        let mut store = ParquetStore::open(root, 0).unwrap();
        assert!(store.read_table("ingest_report").unwrap().equals(&table));
        assert!(!root.join(".ingest_report.parquet.old-99999").exists());
        assert!(!root.join(".ingest_report.parquet.tmp-99999").exists());
    }
}
