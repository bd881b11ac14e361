//! Tests against a real PostgreSQL server that each test starts privately (see common/mod.rs).

mod common;

use common::{assert_same_export, shared_data, PgServer, Workdir};
use polars::prelude::*;

fn pg_work(server: &PgServer, extra: &str) -> Workdir {
    let work = Workdir::new();
    work.write_config(&format!(
        "[store]\nkind = \"postgres\"\nurl = {:?}\n{extra}",
        server.url
    ));
    work
}

/// Every table but `run_manifest` (which holds timings).
fn stable_tables() -> impl Iterator<Item = &'static str> {
    fluz::commands::export::TABLES
        .into_iter()
        .filter(|t| *t != "run_manifest")
}

#[test]
fn both_stores_hold_identical_tables() {
    let Some(server) = PgServer::start("both_stores_hold_identical_tables") else {
        return;
    };
    let parquet = Workdir::new();
    parquet.ok(&["run-all"]);
    let pg = pg_work(&server, "pushdown = false\n");
    let stdout = pg.ok(&["run-all"]);
    assert!(stdout.contains("final model"), "{stdout}");
    for table in stable_tables() {
        let a = std::fs::read(parquet.path().join("out").join(format!("{table}.csv"))).unwrap();
        let b = std::fs::read(pg.path().join("out").join(format!("{table}.csv"))).unwrap();
        assert!(
            a == b,
            "{table} differs between the Parquet and the PostgreSQL store"
        );
    }
    // The SQL-injection merchant name is stored as data, and transactions still exists.
    let merchants = std::fs::read_to_string(pg.path().join("out/merchants.csv")).unwrap();
    assert!(
        merchants.contains("'); drop table transactions; --"),
        "the injection merchant is not in the sample"
    );
    assert!(pg.path().join("out/transactions.csv").exists());

    // Reading some columns gives those columns of the whole table, in the order asked, in
    // both stores; an unknown column is an error naming it.
    use fluz::store::Store;
    let columns = ["unit_price", "customer_id", "stock_code"];
    let mut parquet_store =
        fluz::store::parquet::ParquetStore::open(&parquet.path().join("warehouse"), 0).unwrap();
    let mut pg_store = fluz::store::postgres::PostgresStore::open(&server.url, "fluz", 0).unwrap();
    for store in [
        &mut parquet_store as &mut dyn Store,
        &mut pg_store as &mut dyn Store,
    ] {
        let whole = store.read_table("transactions").unwrap();
        let some = store.read_columns("transactions", &columns).unwrap();
        assert!(
            some.equals(&whole.select(columns).unwrap()),
            "{}",
            store.kind()
        );
        let err = store
            .read_columns("transactions", &["customer_id", "no_such"])
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("table transactions has no column no_such"),
            "{err:#}"
        );
    }
}

#[test]
fn pushdown_gives_the_polars_customer_features() {
    let Some(server) = PgServer::start("pushdown_gives_the_polars_customer_features") else {
        return;
    };
    let parquet = Workdir::new();
    parquet.ok(&["ingest"]);
    parquet.ok(&["eda"]);
    parquet.ok(&["export"]);
    let pg = pg_work(&server, "pushdown = true\n");
    pg.ok(&["ingest"]);
    pg.ok(&["eda"]);
    pg.ok(&["export"]);
    // To the last bit: the engine's sums are sums of integers (src/features/exact.rs).
    assert_same_export(&parquet, &pg, "customer_features");
}

#[test]
fn pushdown_on_the_real_data() {
    let Some(data) = shared_data("pushdown_on_the_real_data") else {
        return;
    };
    let Some(server) = PgServer::start("pushdown_on_the_real_data") else {
        return;
    };
    let config = |work: &Workdir, store: &str| {
        work.write_raw_config(&format!(
            "[data]\nretail = {:?}\nsocial = {:?}\nmerchants = {:?}\n{store}",
            data.join("online_retail.csv.gz"),
            data.join("facebook_combined.txt"),
            data.join("yelp_academic_dataset_business.head5000.json"),
        ));
    };
    let parquet = Workdir::new();
    config(&parquet, "");
    parquet.ok(&["ingest"]);
    parquet.ok(&["eda"]);
    parquet.ok(&["export"]);
    let pg = Workdir::new();
    config(
        &pg,
        &format!(
            "[store]\nkind = \"postgres\"\nurl = {:?}\npushdown = true\n",
            server.url
        ),
    );
    let ingest = pg.ok(&["ingest"]);
    assert!(ingest.contains("4338 customers"), "{ingest}");
    pg.ok(&["eda"]);
    pg.ok(&["export"]);
    // customer_features to the last bit: the engine's sums are sums of integers
    // (src/features/exact.rs).
    for table in [
        "transactions",
        "ingest_report",
        "social_edges",
        "merchants",
        "customer_features",
    ] {
        assert_same_export(&parquet, &pg, table);
    }
}

#[test]
fn unreachable_database_is_a_user_error_without_the_password() {
    let work = Workdir::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    work.write_config(&format!(
        "[store]\nkind = \"postgres\"\nurl = \"postgres://bob:hunter2@127.0.0.1:{port}/db\"\n"
    ));
    let err = work.fails(&["ingest"], 2);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
    assert!(err.contains("bob:***@127.0.0.1"), "{err}");
}

#[test]
fn bad_schema_name_is_refused() {
    let work = Workdir::new();
    work.write_config("[store]\nkind = \"postgres\"\nurl = \"postgres://x@127.0.0.1:1/db\"\nschema = \"fluz; drop table x\"\n");
    let err = work.fails(&["ingest"], 2);
    assert!(err.contains("[store] schema"), "{err}");
}

#[test]
fn database_stopping_mid_run_is_a_clear_user_error() {
    let Some(server) = PgServer::start("database_stopping_mid_run_is_a_clear_user_error") else {
        return;
    };
    let work = pg_work(&server, "");
    work.ok(&["ingest"]);
    server.stop();
    let err = work.fails(&["eda"], 2);
    assert!(err.contains("PostgreSQL"), "{err}");
    assert!(!err.contains("secret-pw"), "{err}");
}

#[test]
fn database_stopping_during_a_stage_is_a_clear_error_and_leaves_whole_tables() {
    let Some(server) = PgServer::start(
        "database_stopping_during_a_stage_is_a_clear_error_and_leaves_whole_tables",
    ) else {
        return;
    };
    let work = pg_work(&server, "lock_timeout_secs = 30\n");
    work.ok(&["-q", "run-all"]);
    let out = work.path().join("out");
    let before: Vec<(String, Vec<u8>)> = fluz::commands::export::TABLES
        .iter()
        .filter(|table| **table != "run_manifest")
        .map(|table| {
            let path = out.join(format!("{table}.csv"));
            (table.to_string(), std::fs::read(path).unwrap())
        })
        .collect();
    // Stop the server (immediate mode: connections are cut) at several points of a run; each
    // time the run fails with exit code 2 and a message naming PostgreSQL, and after a restart
    // every table reads back whole: the old or the new one, which hold the same rows here.
    let mut interrupted = 0;
    for delay in [100u64, 300, 500, 700, 900] {
        let child = work
            .command(&["-q", "run-all"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn fluz");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        server.stop();
        let output = child.wait_with_output().expect("wait for fluz");
        let stderr = String::from_utf8_lossy(&output.stderr);
        server.start_server();
        if output.status.success() {
            continue; // the run finished before the server went away
        }
        interrupted += 1;
        eprintln!("stopped at {delay} ms: {}", stderr.trim());
        assert_eq!(output.status.code(), Some(2), "delay {delay} ms: {stderr}");
        assert!(stderr.contains("PostgreSQL"), "delay {delay} ms: {stderr}");
        assert!(!stderr.contains("secret-pw"), "delay {delay} ms: {stderr}");
        work.ok(&["-q", "export"]);
        for (table, bytes) in &before {
            let now = std::fs::read(out.join(format!("{table}.csv"))).unwrap();
            assert!(
                now == *bytes,
                "{table} changed after stopping PostgreSQL at {delay} ms"
            );
        }
    }
    assert!(interrupted >= 3, "only {interrupted} runs were interrupted");
}

#[test]
fn a_failed_load_keeps_the_previous_table() {
    use fluz::store::Store;
    let Some(server) = PgServer::start("a_failed_load_keeps_the_previous_table") else {
        return;
    };
    let mut store = fluz::store::postgres::PostgresStore::open(&server.url, "fluz", 0).unwrap();
    let good = DataFrame::new(
        2,
        vec![
            Column::new("source".into(), ["retail", "retail"]),
            Column::new("step".into(), ["raw", "drop_missing_customer"]),
            Column::new("rows".into(), [10i64, 8]),
        ],
    )
    .unwrap();
    store.write_table("ingest_report", &good).unwrap();
    // A NUL byte is not valid in PostgreSQL text: the COPY fails inside the transaction.
    let bad = DataFrame::new(
        1,
        vec![
            Column::new("source".into(), ["re\0tail"]),
            Column::new("step".into(), ["raw"]),
            Column::new("rows".into(), [1i64]),
        ],
    )
    .unwrap();
    assert!(store.write_table("ingest_report", &bad).is_err());
    let back = store.read_table("ingest_report").unwrap();
    assert!(back.equals(&good), "the old table was not kept: {back}");
    // Another run on the same schema is refused while this one holds the lock.
    let second = fluz::store::postgres::PostgresStore::open(&server.url, "fluz", 0);
    assert!(second.is_err());
}

#[test]
fn killing_ingest_mid_load_keeps_whole_tables() {
    let Some(server) = PgServer::start("killing_ingest_mid_load_keeps_whole_tables") else {
        return;
    };
    // The server notices a killed client a moment later; until then the schema lock is still
    // held, so the next run waits for it.
    let work = pg_work(&server, "lock_timeout_secs = 30\n");
    work.ok(&["-q", "ingest"]);
    work.ok(&["-q", "export"]);
    let before = std::fs::read(work.path().join("out/transactions.csv")).unwrap();
    for delay in [30u64, 90, 150, 210, 270, 330] {
        let mut child = work.command(&["-q", "ingest"]).spawn().expect("spawn fluz");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL: the server rolls the open transaction back
        let _ = child.wait();
        // The advisory lock died with the connection; every table reads back whole.
        work.ok(&["-q", "export"]);
        let after = std::fs::read(work.path().join("out/transactions.csv")).unwrap();
        assert!(
            after == before,
            "transactions changed after killing ingest at {delay} ms"
        );
    }
}
