//! Tests against a real standalone Spark cluster (a master, two workers and the Spark Connect
//! server) started by `scripts/spark-up.sh`, which exports `FLUZ_TEST_SPARK_URL` and
//! `FLUZ_TEST_SPARK_DIR` in `$FLUZ_SPARK_DIR/env.sh`; `.ci/run` starts it around the tests.
//! Without a cluster a test prints SKIPPED, except under CI, where it fails.
//!
//! The tests share the one cluster, and the fault test kills a worker, so they take turns.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{assert_same_csv, assert_same_export, shared_data, skipped, Workdir};

static CLUSTER: Mutex<()> = Mutex::new(());

/// The cluster's URL and state folder, with the cluster to ourselves; None (SKIPPED) when no
/// cluster is up outside CI.
fn cluster(test: &str) -> Option<(String, PathBuf, MutexGuard<'static, ()>)> {
    let guard = CLUSTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let missing = |reason: String| {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {reason}, but CI must start the cluster (scripts/spark-up.sh)");
        }
        skipped(&format!(
            "{test}: {reason} (start one with scripts/spark-up.sh and `. $FLUZ_SPARK_DIR/env.sh`)"
        ));
    };
    let (Ok(url), Ok(dir)) = (
        std::env::var("FLUZ_TEST_SPARK_URL"),
        std::env::var("FLUZ_TEST_SPARK_DIR"),
    ) else {
        missing("FLUZ_TEST_SPARK_URL / FLUZ_TEST_SPARK_DIR are not set: no Spark cluster".into());
        return None;
    };
    let address = url
        .trim_start_matches("sc://")
        .split(['/', ';'])
        .next()
        .unwrap_or_default()
        .to_string();
    if std::net::TcpStream::connect(&address).is_err() {
        missing(format!("no Spark Connect server answers at {address}"));
        return None;
    }
    Some((url, PathBuf::from(dir), guard))
}

/// A work folder whose store is the Spark kind on the cluster at `url`, `extra` TOML after it.
fn spark_work(url: &str, extra: &str) -> Workdir {
    let work = Workdir::new();
    work.write_config(&format!(
        "[store]\nkind = \"spark\"\nspark_url = {url:?}\nspark_files = 4\n{extra}"
    ));
    work
}

/// Points a work folder's config at the real datasets, `store` TOML after them.
fn real_config(work: &Workdir, data: &Path, store: &str) {
    work.write_raw_config(&format!(
        "[data]\nretail = {:?}\nsocial = {:?}\nmerchants = {:?}\n{store}",
        data.join("online_retail.csv.gz"),
        data.join("facebook_combined.txt"),
        data.join("yelp_academic_dataset_business.head5000.json"),
    ));
}

/// Every file under `folder` (recursively) with its bytes, for "unchanged" checks.
fn snapshot(folder: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(folder: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if !path.ends_with(".fluz.lock") {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(folder, &mut files);
    files.sort();
    files
}

/// The `transactions` table of a Spark-kind warehouse is a folder of `files` Parquet files.
fn assert_transactions_in_parts(work: &Workdir, files: usize) {
    let folder = work.path().join("warehouse/transactions.parquet");
    assert!(folder.is_dir(), "{} is not a folder", folder.display());
    let parts = std::fs::read_dir(&folder).unwrap().count();
    assert_eq!(parts, files, "{}", folder.display());
}

#[test]
fn spark_gives_the_polars_customer_features_on_the_sample() {
    let Some((url, _, _cluster)) =
        cluster("spark_gives_the_polars_customer_features_on_the_sample")
    else {
        return;
    };
    let parquet = Workdir::new();
    for stage in ["ingest", "eda", "export"] {
        parquet.ok(&[stage]);
    }
    let spark = spark_work(&url, "");
    for stage in ["ingest", "eda", "export"] {
        spark.ok(&[stage]);
    }
    assert_transactions_in_parts(&spark, 4);
    // customer_features to the last bit: the engine's sums are sums of integers
    // (src/features/exact.rs).
    for table in [
        "transactions",
        "ingest_report",
        "social_edges",
        "merchants",
        "customer_features",
    ] {
        assert_same_export(&parquet, &spark, table);
    }
    // The Spark kind's warehouse is a Parquet warehouse: the Parquet kind reads it whole.
    let both = spark.ok(&["--store", "parquet", "eda"]);
    assert!(both.contains("customers"), "{both}");
}

/// The "done when": run-all with the Spark kind gives the Parquet store's tables on the
/// real data — every table to the last bit, the learned models' and the budget's included:
/// `customer_features` is the same to the last bit (exact integer sums in both engines), and
/// everything after it is deterministic.
#[test]
fn run_all_on_spark_gives_the_parquet_tables_on_the_real_data() {
    let Some(data) = shared_data("run_all_on_spark_gives_the_parquet_tables_on_the_real_data")
    else {
        return;
    };
    let Some((url, _, _cluster)) =
        cluster("run_all_on_spark_gives_the_parquet_tables_on_the_real_data")
    else {
        return;
    };
    let parquet = Workdir::new();
    real_config(&parquet, &data, "");
    parquet.ok(&["run-all"]);
    let spark = Workdir::new();
    real_config(
        &spark,
        &data,
        &format!("[store]\nkind = \"spark\"\nspark_url = {url:?}\n"),
    );
    let stdout = spark.ok(&["run-all"]);
    assert!(stdout.contains("4338 customers"), "{stdout}");
    assert_transactions_in_parts(&spark, 8);
    let mut compared = 0;
    for table in fluz::commands::export::TABLES {
        if table == "run_manifest" {
            continue;
        }
        assert_same_export(&parquet, &spark, table);
        compared += 1;
    }
    assert_eq!(compared, fluz::commands::export::TABLES.len() - 1);
}

/// A minimal HTTP GET against the Spark Connect server's UI REST API (JSON), at
/// `FLUZ_TEST_SPARK_UI` (written by spark-up.sh).
fn get_json(path: &str) -> Option<serde_json::Value> {
    let ui = std::env::var("FLUZ_TEST_SPARK_UI").unwrap_or_else(|_| "http://127.0.0.1:4040".into());
    let address = ui.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (_, body) = text.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

/// The Spark Connect server's application id.
fn connect_app_id() -> String {
    let apps = get_json("/api/v1/applications").expect("the Spark UI REST API answers");
    apps[0]["id"].as_str().expect("an application").to_string()
}

/// The SQL executions of the application whose plan mentions `marker`, as (id, status).
fn executions(app: &str, marker: &str) -> Vec<(i64, String)> {
    let Some(list) = get_json(&format!(
        "/api/v1/applications/{app}/sql?details=true&planDescription=true&length=10000"
    )) else {
        return Vec::new();
    };
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["planDescription"].as_str().unwrap_or("").contains(marker))
                .map(|e| {
                    (
                        e["id"].as_i64().unwrap_or(-1),
                        e["status"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How many of the application's executors are gone.
fn lost_executors(app: &str) -> usize {
    let executors =
        get_json(&format!("/api/v1/applications/{app}/allexecutors")).expect("executors");
    executors
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|e| e["id"] != "driver" && e["isActive"] == false)
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn killing_a_worker_during_the_aggregation_gives_the_same_table() {
    let Some((url, state, _cluster)) =
        cluster("killing_a_worker_during_the_aggregation_gives_the_same_table")
    else {
        return;
    };
    // Ten times the real data's customers (about 4M lines), so the aggregation runs for
    // seconds on the two one-core workers.
    let work = Workdir::new();
    let data = work.path().join("data");
    work.ok(&[
        "generate",
        "--out",
        data.to_str().unwrap(),
        "--customers",
        "44000",
    ]);
    let config = |store: &str| {
        format!(
            "[data]\nretail = {:?}\nsocial = {:?}\nmerchants = {:?}\n[store]\n{store}",
            data.join("online_retail.csv.gz"),
            data.join("facebook_combined.txt"),
            data.join("yelp_academic_dataset_business.json"),
        )
    };
    work.write_raw_config(&config(&format!("kind = \"spark\"\nspark_url = {url:?}\n")));
    work.ok(&["ingest"]);
    // The reference: polars on the same warehouse.
    work.ok(&["--store", "parquet", "--out-dir", "polars", "eda"]);
    work.ok(&["--store", "parquet", "--out-dir", "polars", "export"]);

    let app = connect_app_id();
    let lost_before = lost_executors(&app);
    let mut seen: Vec<i64> = executions(&app, "m_commission")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let restart_worker = || {
        std::process::Command::new(common::repo().join("scripts/spark-up.sh"))
            .args(["worker", "1"])
            .env("FLUZ_SPARK_DIR", &state)
            .status()
            .expect("restart worker 1")
    };
    // Kill worker 1's JVM while the aggregation query (the one joining the merchant link)
    // runs. How long it runs depends on the machine's load, so a run that ends before the
    // kill lands is let finish and the next one is tried, three at most.
    let mut landed = None;
    for _attempt in 0..3 {
        let mut child = work
            .command(&["eda"])
            .env_remove("FLUZ_SPARK_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start fluz eda");
        let deadline = Instant::now() + Duration::from_secs(300);
        let running = loop {
            let found = executions(&app, "m_commission")
                .into_iter()
                .find(|(id, status)| !seen.contains(id) && status == "RUNNING");
            if let Some((id, _)) = found {
                break id;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "fluz eda ended before the aggregation was seen running"
            );
            assert!(Instant::now() < deadline, "the aggregation never started");
            std::thread::sleep(Duration::from_millis(100));
        };
        seen.push(running);
        // Let it get into its tasks, then kill.
        std::thread::sleep(Duration::from_millis(800));
        let worker_pid = std::fs::read_to_string(state.join("pids/worker-1.pid"))
            .expect("worker-1.pid")
            .trim()
            .to_string();
        let still_running = executions(&app, "m_commission")
            .into_iter()
            .any(|(id, status)| id == running && status == "RUNNING");
        if !still_running {
            let output = child.wait_with_output().expect("wait for fluz eda");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            continue;
        }
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &worker_pid])
            .status()
            .expect("kill");
        assert!(killed.success(), "could not kill worker 1 ({worker_pid})");
        let mid_run = child.try_wait().unwrap().is_none();
        let output = child.wait_with_output().expect("wait for fluz eda");
        // Bring the cluster back to two workers for whatever runs next, before any assertion.
        let restarted = restart_worker();
        assert!(
            output.status.success(),
            "fluz eda failed after the worker was killed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(restarted.success(), "worker 1 did not come back");
        if mid_run {
            landed = Some(running);
            break;
        }
    }
    let running = landed.expect("the kill did not land while the aggregation ran, in 3 runs");
    let status = executions(&app, "m_commission")
        .into_iter()
        .find(|(id, _)| *id == running)
        .map(|(_, status)| status);
    assert_eq!(status.as_deref(), Some("COMPLETED"));
    // Spark saw the executor go.
    assert!(
        lost_executors(&app) > lost_before,
        "Spark lost no executor: the kill did not reach the query"
    );
    work.ok(&["export"]);
    assert_same_csv(
        &work.path().join("polars/customer_features.csv"),
        &work.path().join("out/customer_features.csv"),
        1e-9,
    );
}

#[test]
fn spark_unreachable_is_a_user_error_and_leaves_the_store_unchanged() {
    // No cluster needed: nothing listens on the port.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let work = spark_work(&format!("sc://127.0.0.1:{port}"), "");
    // ingest needs no cluster: fluz writes the warehouse itself.
    work.ok(&["ingest"]);
    assert_transactions_in_parts(&work, 4);
    let before = snapshot(&work.path().join("warehouse"));
    let output = work
        .command(&["eda"])
        .env_remove("FLUZ_SPARK_URL")
        .env("SPARK_CONNECT_AUTHENTICATE_TOKEN", "hunter2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot reach Spark Connect at sc://127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the token leaked: {err}");
    assert_eq!(snapshot(&work.path().join("warehouse")), before);
}

#[test]
fn a_warehouse_spark_cannot_read_is_a_user_error_and_leaves_the_store_unchanged() {
    let Some((url, _, _cluster)) =
        cluster("a_warehouse_spark_cannot_read_is_a_user_error_and_leaves_the_store_unchanged")
    else {
        return;
    };
    let work = spark_work(
        &url,
        "spark_warehouse = \"file:///nonexistent/fluz-warehouse\"\n",
    );
    work.ok(&["ingest"]);
    let before = snapshot(&work.path().join("warehouse"));
    let err = work.fails(&["eda"], 2);
    assert!(
        err.contains(
            "the Spark cluster cannot read the warehouse at file:///nonexistent/fluz-warehouse"
        ),
        "{err}"
    );
    assert_eq!(snapshot(&work.path().join("warehouse")), before);
}
