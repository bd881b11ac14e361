//! The one atomic file writer: every file fluz writes (store tables, CSVs, charts, the model,
//! generated data) goes through a temporary sibling, fsync and rename, so a reader — or a run
//! killed half-way — never sees a half-written file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `path` through `.<name>.tmp-<pid>` beside it: `write` streams the content into a
/// buffered file, which is flushed, synced and renamed over `path`; then the folder is synced
/// so that the rename itself survives a crash. On failure the temporary file is removed and
/// `path` keeps its old content. Returns what `write` returned.
pub(crate) fn write_atomic_with<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T>,
) -> Result<T> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<T> {
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let value =
            write(&mut writer).with_context(|| format!("cannot write {}", tmp.display()))?;
        let file = writer
            .into_inner()
            .map_err(|err| err.into_error())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot flush {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(dir) = File::open(folder) {
                let _ = dir.sync_all();
            }
        }
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` atomically (see [`write_atomic_with`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| Ok(file.write_all(bytes)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_nothing_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.csv");
        write_atomic(&path, b"old").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let err = write_atomic_with(&path, |file| -> Result<()> {
            file.write_all(b"half")?;
            anyhow::bail!("disk full")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("disk full"), "{err:#}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["table.csv"]);
        assert_eq!(write_atomic_with(&path, |_| Ok(7)).unwrap(), 7);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }
}
