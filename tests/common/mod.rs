//! Shared test helpers: a temp work dir that runs the real `fluz` binary, and a private
//! PostgreSQL server started for the test (initdb into a temp dir; as the `postgres` user when
//! run as root, since initdb refuses root) and stopped when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reports a skipped test so that it shows in `cargo test`'s output: written to the stderr
/// handle directly, which the test harness does not capture (it captures `eprintln!`).
pub fn skipped(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {message}");
}

/// Every file of `../shared/data` that a test reads.
pub const SHARED_FILES: [&str; 9] = [
    "online_retail.csv.gz",
    "Online Retail.xlsx",
    "facebook_combined.txt",
    "yelp_academic_dataset_business.head5000.json",
    "hillstrom.csv",
    "CDNOW_sample.txt",
    "CDNOW_master.txt",
    "cdnow_customers_summary.csv",
    "cdnow_customers_summary_with_transactions.csv",
];

/// `../shared/data` beside the checkout, when every file of [`SHARED_FILES`] is there. Prints
/// a clear SKIPPED line naming what is missing otherwise (and fails under CI, where it must be
/// there).
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir = repo().join("../shared/data");
    let missing: Vec<&str> = SHARED_FILES
        .iter()
        .copied()
        .filter(|file| !dir.join(file).is_file())
        .collect();
    if missing.is_empty() {
        return Some(dir.canonicalize().unwrap_or(dir));
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: ../shared/data lacks {missing:?}, but CI must have it");
    }
    skipped(&format!(
        "{test}: ../shared/data (the real datasets) is not beside the checkout or lacks {missing:?}"
    ));
    None
}

/// A temporary folder holding a config file, where the real binary runs.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    /// A fresh folder with a config pointing at the bundled sample data.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let work = Self { dir };
        work.write_config("");
        work
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `config.toml`: the sample data paths, then `extra` TOML.
    pub fn write_config(&self, extra: &str) {
        let sample = repo().join("data/sample");
        let text = format!(
            "[data]\nretail = {:?}\nsocial = {:?}\nmerchants = {:?}\n{extra}",
            sample.join("online_retail.csv.gz"),
            sample.join("facebook_combined.txt"),
            sample.join("yelp_academic_dataset_business.json"),
        );
        std::fs::write(self.path().join("config.toml"), text).expect("write config");
    }

    /// Writes raw text as the config file.
    pub fn write_raw_config(&self, text: &str) {
        std::fs::write(self.path().join("config.toml"), text).expect("write config");
    }

    /// A command running the real binary in this folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fluz"));
        command
            .current_dir(self.path())
            .args(args)
            .env_remove("FLUZ_DATABASE_URL")
            .env_remove("FLUZ_SPARK_URL")
            .env("CI", "true");
        command
    }

    /// Runs and returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run fluz")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "fluz {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs, asserts the exit code, returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "fluz {args:?}: expected exit code {code}:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Every file of the warehouse folder with its bytes (for "unchanged" checks).
    pub fn snapshot(&self, folder: &str) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = match std::fs::read_dir(self.path().join(folder)) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap_or_default(),
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }
}

fn find_pg_bin() -> Option<PathBuf> {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// A private PostgreSQL server for one test.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    pub url: String,
    as_postgres_user: bool,
}

impl PgServer {
    /// Starts a server, or returns None (with a SKIPPED line) when PostgreSQL is not installed
    /// outside CI. Under CI a missing server is a failure.
    pub fn start(test: &str) -> Option<Self> {
        let Some(bin) = find_pg_bin() else {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: PostgreSQL server binaries not found, but CI must install them");
            }
            skipped(&format!(
                "{test}: PostgreSQL server binaries (initdb, pg_ctl) not installed"
            ));
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("fluz-pg-")
            .tempdir()
            .expect("temp dir");
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if is_root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "chown to postgres failed: is the postgres user there?"
            );
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            listener.local_addr().expect("addr").port()
        };
        let server = Self {
            bin,
            port,
            url: format!("postgres://fluz:secret-pw@127.0.0.1:{port}/postgres"),
            as_postgres_user: is_root,
            dir,
        };
        let data = server.dir.path().join("data");
        let pwfile = server.dir.path().join("pw");
        std::fs::write(&pwfile, "secret-pw\n").expect("pwfile");
        if is_root {
            let _ = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&pwfile)
                .status();
        }
        server.pg(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "fluz",
                "--auth=md5",
                "--pwfile",
                pwfile.to_str().unwrap(),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.start_server();
        Some(server)
    }

    /// Starts the server on its data folder (again, after `stop`).
    pub fn start_server(&self) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c synchronous_commit=off -c wal_level=minimal -c max_wal_senders=0 -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    fn pg(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let output = if self.as_postgres_user {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .unwrap_or_else(|err| panic!("cannot run {tool}: {err}"));
        assert!(
            output.status.success(),
            "{tool} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Stops the server now (for "database went away" tests).
    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        let args = [
            "-D",
            data.to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ];
        let program = self.bin.join("pg_ctl");
        let _ = if self.as_postgres_user {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CSV export's rows (header first), every cell as text.
pub fn read_csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|_| panic!("{} missing", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Compares two CSV exports cell by cell: integers and text exactly, other numbers within
/// `rel` relative tolerance.
pub fn assert_same_csv(a: &Path, b: &Path, rel: f64) {
    let (ra, rb) = (read_csv_rows(a), read_csv_rows(b));
    assert_eq!(
        ra.len(),
        rb.len(),
        "{} and {} have different row counts",
        a.display(),
        b.display()
    );
    assert!(ra.len() > 1, "{} has no rows", a.display());
    for (i, (x, y)) in ra.iter().zip(&rb).enumerate() {
        assert_eq!(x.len(), y.len(), "{} row {i}", a.display());
        for (column, (cx, cy)) in x.iter().zip(y).enumerate() {
            if cx == cy {
                continue;
            }
            let integers = cx.parse::<i64>().is_ok() && cy.parse::<i64>().is_ok();
            match (cx.parse::<f64>(), cy.parse::<f64>()) {
                (Ok(fx), Ok(fy))
                    if !integers && (fx - fy).abs() <= rel * fx.abs().max(fy.abs()).max(1e-300) => {
                }
                _ => panic!(
                    "{} row {i} column {} ({}): {cx:?} vs {cy:?} ({})",
                    a.display(),
                    column,
                    ra[0][column],
                    b.display()
                ),
            }
        }
    }
}

/// Asserts that `table`'s CSV export is the same in both work folders, byte for byte (when it
/// is not, the cell-by-cell comparison names the first differing cell).
pub fn assert_same_export(a: &Workdir, b: &Workdir, table: &str) {
    let (fa, fb) = (
        a.path().join(format!("out/{table}.csv")),
        b.path().join(format!("out/{table}.csv")),
    );
    let bytes = |p: &Path| std::fs::read(p).unwrap_or_else(|_| panic!("{} missing", p.display()));
    if bytes(&fa) != bytes(&fb) {
        assert_same_csv(&fa, &fb, 0.0);
    }
}
