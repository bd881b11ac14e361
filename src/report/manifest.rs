//! `run_manifest.json`'s parts built from the run: the inputs (path, SHA-256, bytes, raw rows)
//! and the stages (from the `run_manifest` table, with export's own entry).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use polars::prelude::DataFrame;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::frame::{f64_column, i64_column, str_column};

/// A file's SHA-256 (hex) and size, read in 1 MiB blocks.
pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        hasher.update(&buffer[..read]);
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), bytes))
}

/// An input file: its source name, path, and checksum and size when it could be read.
pub(crate) type HashedInput<'a> = (&'a str, PathBuf, Option<(String, u64)>);

/// The manifest's `inputs`: each source's path, checksum and size (null when unreadable) and
/// its raw row count from `ingest_report`.
pub(crate) fn inputs(
    hashed: [HashedInput<'_>; 3],
    ingest_report: Option<&DataFrame>,
) -> Result<Vec<Value>> {
    let mut raw: HashMap<String, i64> = HashMap::new();
    if let Some(report) = ingest_report {
        let sources = str_column(report, "source")?;
        let steps = str_column(report, "step")?;
        let rows = i64_column(report, "rows")?;
        for i in 0..report.height() {
            if steps[i] == "raw" {
                raw.insert(sources[i].clone(), rows[i]);
            }
        }
    }
    Ok(hashed
        .into_iter()
        .map(|(source, path, hash)| {
            let (sha256, bytes) = match hash {
                Some(pair) => (json!(pair.0), json!(pair.1)),
                None => (Value::Null, Value::Null),
            };
            json!({
                "source": source,
                "path": path.display().to_string(),
                "sha256": sha256,
                "bytes": bytes,
                "rows": raw.get(source),
            })
        })
        .collect())
}

/// The manifest's `stages`: every stage recorded in the `run_manifest` table but export, then
/// export's own entry (its table row is recorded after the file is written): `so_far` into the
/// stage, `files` written by it.
pub(crate) fn stages(
    run_manifest: Option<&DataFrame>,
    so_far: Duration,
    files: usize,
) -> Result<Vec<Value>> {
    let mut stages = Vec::new();
    if let Some(manifest) = run_manifest {
        let stage = str_column(manifest, "stage")?;
        let at = str_column(manifest, "started_at")?;
        let seconds = f64_column(manifest, "seconds")?;
        let rows = i64_column(manifest, "rows_out")?;
        let details = str_column(manifest, "details")?;
        for i in 0..manifest.height() {
            if stage[i] == "export" {
                continue;
            }
            stages.push(json!({
                "stage": stage[i],
                "started_at": at[i],
                "seconds": seconds[i],
                "rows_out": rows[i],
                "details": serde_json::from_str::<Value>(&details[i]).unwrap_or(Value::Null),
            }));
        }
    }
    stages.push(json!({
        "stage": "export",
        "started_at": (chrono::Utc::now() - chrono::Duration::milliseconds(so_far.as_millis() as i64))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        "seconds": so_far.as_secs_f64(),
        "rows_out": files,
        "details": { "files": files },
    }));
    Ok(stages)
}
