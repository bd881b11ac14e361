//! A lock file so that two fluz runs never write the same warehouse at once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::error::user_error;

/// Holds an exclusive advisory lock on `<folder>/.fluz.lock` until dropped.
#[derive(Debug)]
pub struct LockFile {
    _file: File,
    path: PathBuf,
}

impl LockFile {
    /// Takes the lock, waiting up to `timeout_secs` for another run to release it.
    pub fn acquire(folder: &Path, timeout_secs: u64) -> Result<Self> {
        let path = folder.join(".fluz.lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        let deadline = Instant::now() + Duration::from_secs(timeout_secs);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let holder = std::fs::read_to_string(&path).unwrap_or_default();
                        return Err(user_error(format!(
                            "another fluz run is using the store {} (lock file {}{}); wait for it to finish or raise [store] lock_timeout_secs",
                            folder.display(),
                            path.display(),
                            if holder.trim().is_empty() { String::new() } else { format!(", held by pid {}", holder.trim()) }
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("cannot lock {}", path.display()))
                }
            }
        }
        file.set_len(0).ok();
        let _ = write!(file, "{}", std::process::id());
        Ok(Self { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
