//! Readers of the real input formats: UCI Online Retail (xlsx, CSV, CSV.gz), SNAP edge lists
//! and Yelp business JSON lines. Every reader reports bad input with the file, the line (or
//! sheet row) and the column, or — with `on_bad_row = "skip"` — counts and skips the row.

pub(crate) mod budget_values;
pub(crate) mod csv;
pub mod dates;
pub(crate) mod json_line;
pub mod merchants;
pub(crate) mod offers;
pub mod retail;
pub mod social;
pub(crate) mod text;
pub mod xlsx;

pub use text::shown;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a reader does with a row it cannot parse: stop (`error`, the default) or count and skip
/// it (`skip`, reported in `ingest_report`). `[ingest] on_bad_row`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBadRow {
    Error,
    Skip,
}

/// The text encoding of a CSV source (`[ingest] encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8 when the bytes are valid UTF-8, else ISO-8859-1.
    Auto,
    Utf8,
    Latin1,
}

/// Bad input: always a user error (exit code 2).
#[derive(Debug)]
pub struct SourceError {
    pub file: PathBuf,
    /// "line 17, column UnitPrice", "sheet 'Online Retail' row 9", or empty for the whole file.
    pub location: String,
    pub message: String,
}

impl SourceError {
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            location: String::new(),
            message: message.into(),
        }
    }

    pub fn at(file: &Path, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.location,
                self.message
            )
        }
    }
}

impl std::error::Error for SourceError {}

/// Limits and policies shared by the readers.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    pub on_bad_row: OnBadRow,
    pub max_decompressed_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            on_bad_row: OnBadRow::Error,
            max_decompressed_bytes: 8 << 30,
        }
    }
}

/// Reads a whole input file, transparently gunzipping it (by magic bytes, whatever its name),
/// refusing gzip data that expands past `max_decompressed_bytes`.
pub(crate) fn read_input(path: &Path, max_decompressed_bytes: u64) -> Result<Vec<u8>, SourceError> {
    let raw = std::fs::read(path)
        .map_err(|err| SourceError::file(path, format!("cannot read file: {err}")))?;
    if raw.is_empty() {
        return Err(SourceError::file(path, "file is empty"));
    }
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut decoder =
            flate2::read::MultiGzDecoder::new(&raw[..]).take(max_decompressed_bytes + 1);
        let mut out = Vec::with_capacity((raw.len() * 6).min(max_decompressed_bytes as usize + 1));
        decoder.read_to_end(&mut out).map_err(|err| {
            SourceError::file(
                path,
                format!(
                    "truncated or corrupt gzip data after {} decompressed bytes: {err}",
                    out.len()
                ),
            )
        })?;
        if out.len() as u64 > max_decompressed_bytes {
            return Err(SourceError::file(
                path,
                format!(
                    "gzip data expands to more than {max_decompressed_bytes} bytes (the limit [ingest] max_decompressed_bytes); refusing to decompress further"
                ),
            ));
        }
        if out.is_empty() {
            return Err(SourceError::file(
                path,
                "file is empty (after decompression)",
            ));
        }
        return Ok(out);
    }
    Ok(raw)
}

/// Counts the rows a reader skipped under `on_bad_row = "skip"` and remembers the first reason.
#[derive(Debug, Default, Clone)]
pub struct BadRows {
    pub count: usize,
    pub first: Option<String>,
}

impl BadRows {
    /// Refuses the file when skipping left none of its rows (`kept` is 0) but some were bad: a
    /// file of bad rows must not replace good data.
    pub(crate) fn refuse_if_all_bad(&self, kept: usize, file: &Path) -> Result<(), SourceError> {
        if kept > 0 || self.count == 0 {
            return Ok(());
        }
        Err(SourceError::file(
            file,
            format!(
                "every data row is bad ({} skipped); the first: {}",
                self.count,
                self.first.as_deref().unwrap_or("")
            ),
        ))
    }

    /// Handles one bad row: an error under `OnBadRow::Error`, a count under `Skip`.
    pub fn handle(&mut self, policy: OnBadRow, err: SourceError) -> Result<(), SourceError> {
        match policy {
            OnBadRow::Error => Err(err),
            OnBadRow::Skip => {
                self.count += 1;
                if self.first.is_none() {
                    self.first = Some(err.to_string());
                }
                Ok(())
            }
        }
    }
}

/// One row of `ingest_report`: rows left after a cleaning step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepCount {
    pub source: &'static str,
    pub step: &'static str,
    pub rows: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain_name.txt");
        std::fs::write(&path, gzip(b"1 2\n")).unwrap();
        assert_eq!(read_input(&path, 1 << 20).unwrap(), b"1 2\n");
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.csv.gz");
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| i.to_string().into_bytes())
            .collect();
        let packed = gzip(&data);
        std::fs::write(&path, &packed[..packed.len() / 2]).unwrap();
        let err = read_input(&path, 1 << 30).unwrap_err().to_string();
        assert!(
            err.contains("cut.csv.gz") && err.contains("truncated or corrupt gzip"),
            "{err}"
        );
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.gz");
        std::fs::write(&path, gzip(&vec![b'a'; 5_000_000])).unwrap();
        let err = read_input(&path, 1_000_000).unwrap_err().to_string();
        assert!(err.contains("max_decompressed_bytes"), "{err}");
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.csv");
        std::fs::write(&path, b"").unwrap();
        assert!(read_input(&path, 100)
            .unwrap_err()
            .to_string()
            .contains("file is empty"));
    }
}
