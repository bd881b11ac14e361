//! Faults mid-run: `fluz ingest` and `fluz train` killed with SIGKILL at many points while they
//! write. The store must hold the old or the new version of every table — never a partial
//! file — and the next run must work.

mod common;

use std::time::Duration;

use common::Workdir;
use polars::prelude::*;

/// Reads every table of the warehouse; panics on a partial or corrupt file.
fn read_all(work: &Workdir) -> Vec<(String, usize)> {
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(work.path().join("warehouse"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".parquet") || name.starts_with('.') {
            continue;
        }
        let file = std::fs::File::open(entry.path()).unwrap();
        let table = ParquetReader::new(file)
            .finish()
            .unwrap_or_else(|err| panic!("{name} is not a whole Parquet file after a kill: {err}"));
        tables.push((name, table.height()));
    }
    tables.sort();
    tables
}

/// Kills `fluz <stage>` after each of `delays` (milliseconds) and checks the store each time.
fn kill_repeatedly(work: &Workdir, stage: &str, delays: &[u64]) {
    let complete = read_all(work);
    for &delay in delays {
        let mut child = work.command(&["-q", stage]).spawn().expect("spawn fluz");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Old or new: the sample gives the same tables every time, so the counts must match.
        assert_eq!(
            read_all(work),
            complete,
            "after killing `fluz {stage}` at {delay} ms"
        );
    }
    // The next run works (the lock died with the process) and leaves no temporary files.
    work.ok(&["-q", stage]);
    let leftovers: Vec<String> = std::fs::read_dir(work.path().join("warehouse"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

/// Delays spread over a stage's run time (deterministic, so a failure reproduces).
fn delays(total_ms: u64, count: u64) -> Vec<u64> {
    (0..count).map(|i| (i * 7919) % total_ms).collect()
}

#[test]
fn killing_ingest_never_leaves_a_partial_table() {
    let work = Workdir::new();
    work.ok(&["-q", "ingest"]);
    kill_repeatedly(&work, "ingest", &delays(400, 12));
}

#[test]
fn killing_train_never_leaves_a_partial_table() {
    let work = Workdir::new();
    work.ok(&["-q", "ingest"]);
    work.ok(&["-q", "eda"]);
    work.ok(&["-q", "segment"]);
    work.ok(&["-q", "train"]);
    kill_repeatedly(&work, "train", &delays(900, 12));
}
