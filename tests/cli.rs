//! Integration tests: the real `fluz` binary in a temp folder on the bundled sample data.

mod common;

use common::Workdir;

use fluz::commands::export::TABLES;

fn csv_header(work: &Workdir, table: &str) -> String {
    let text =
        std::fs::read_to_string(work.path().join("out").join(format!("{table}.csv"))).unwrap();
    text.lines().next().unwrap_or("").to_string()
}

#[test]
fn run_all_on_the_sample_writes_every_output() {
    let work = Workdir::new();
    let stdout = work.ok(&["run-all"]);
    assert!(stdout.contains("fluz run-all finished"), "{stdout}");
    assert!(stdout.contains("final model"), "{stdout}");
    let out = work.path().join("out");
    for table in TABLES {
        let path = out.join(format!("{table}.csv"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} missing", path.display()));
        // clv_holdout too: without a calibration end, the check of the last 90 days.
        assert!(text.lines().count() > 1, "{table}.csv has no rows");
        assert!(work
            .path()
            .join("warehouse")
            .join(format!("{table}.parquet"))
            .exists());
    }
    for file in [
        "analytics_summary.png",
        "clv_holdout.png",
        "k_selection.png",
        "segments.png",
        "shap_summary_plot.png",
        "shap_feature_importance.png",
        "run_manifest.json",
        "dashboard.html",
        "eda_summary.json",
        "cashback_model.json",
    ] {
        let bytes = std::fs::read(out.join(file)).unwrap_or_else(|_| panic!("{file} missing"));
        assert!(bytes.len() > 100, "{file} is too small");
    }
    // The column names of SPEC §10.
    assert!(csv_header(&work, "customer_features")
        .starts_with("customer_id,country,n_lines,n_invoices,total_quantity,total_spent"));
    assert!(csv_header(&work, "cashback_predictions")
        .contains("customer_id,split,margin,beta,optimal_rate,predicted_rate,tier"));
    assert_eq!(
        csv_header(&work, "cashback_shap_values"),
        "customer_id,feature,value,shap"
    );
    assert_eq!(csv_header(&work, "ingest_report"), "source,step,rows");
    assert_eq!(
        csv_header(&work, "k_selection"),
        "k,inertia,silhouette,davies_bouldin,calinski_harabasz,min_cluster_size,silhouette_exact,best"
    );
    assert_eq!(
        csv_header(&work, "model_comparison"),
        "family,params,cv_rmse,test_rmse,test_mae,test_r2,final"
    );
    assert_eq!(
        csv_header(&work, "cashback_shap_importance"),
        "feature,mean_abs_shap,rank"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run_manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["stages"].as_array().unwrap().len(),
        10,
        "six stages + clv + simulate-offers + uplift + allocate"
    );
    assert_eq!(manifest["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    // The dashboard carries this run's numbers: every persona, the final model family, the
    // customer count.
    let dashboard = std::fs::read_to_string(out.join("dashboard.html")).unwrap();
    let profiles = std::fs::read_to_string(out.join("segment_profiles.csv")).unwrap();
    for line in profiles.lines().skip(1) {
        let persona = line.split(',').nth(1).unwrap();
        assert!(
            dashboard.contains(persona),
            "dashboard lacks persona {persona}"
        );
    }
    let family = manifest["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "train")
        .map(|s| s["details"]["final_family"].as_str().unwrap().to_string())
        .unwrap();
    assert!(dashboard.contains(&family), "dashboard lacks {family}");
    let customers = std::fs::read_to_string(out.join("customer_features.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(dashboard.contains(&customers.to_string()), "{customers}");
    let report = std::fs::read_to_string(out.join("ingest_report.csv")).unwrap();
    assert!(
        report.contains("retail,raw,") && report.contains("retail,drop_duplicates,"),
        "{report}"
    );

    // A damaged model file is a clear error (exit 2), not a hang in a cyclic tree, and the
    // stored explanations stay as they were.
    let model_path = out.join("cashback_model.json");
    let good_model = std::fs::read_to_string(&model_path).unwrap();
    let stored = work.snapshot("warehouse");
    let mut model: serde_json::Value = serde_json::from_str(&good_model).unwrap();
    let kind = model["model"]["kind"].as_str().unwrap().to_string();
    let expected = if kind == "linear" {
        // One weight for fourteen features.
        model["model"]["weights"] = serde_json::json!([0.5]);
        "is damaged: 1 weights for 14 features"
    } else {
        let tree = if kind == "decision_tree" {
            &mut model["model"]
        } else {
            &mut model["model"]["trees"][0]
        };
        tree["nodes"][0]["left"] = serde_json::json!(0);
        "is damaged: tree 0: node 0 has children 0 and"
    };
    std::fs::write(&model_path, model.to_string()).unwrap();
    let err = work.fails(&["explain"], 2);
    assert!(err.contains(expected), "{kind}: {err}");
    std::fs::write(&model_path, "{\"fluz_version\": ").unwrap();
    let err = work.fails(&["explain"], 2);
    assert!(err.contains("is not a fluz model"), "{err}");
    assert_eq!(work.snapshot("warehouse"), stored);
}

#[test]
fn same_config_gives_the_same_tables() {
    let a = Workdir::new();
    let b = Workdir::new();
    a.ok(&["run-all"]);
    b.ok(&["run-all"]);
    for table in TABLES {
        if table == "run_manifest" {
            continue;
        }
        let read =
            |w: &Workdir| std::fs::read(w.path().join("out").join(format!("{table}.csv"))).unwrap();
        assert!(read(&a) == read(&b), "{table}.csv differs between two runs");
        let parquet = |w: &Workdir| {
            std::fs::read(w.path().join("warehouse").join(format!("{table}.parquet"))).unwrap()
        };
        assert!(
            parquet(&a) == parquet(&b),
            "{table}.parquet differs between two runs"
        );
    }
}

#[test]
fn stages_run_one_at_a_time() {
    let work = Workdir::new();
    let ingest = work.ok(&["ingest"]);
    assert!(ingest.contains("drop_missing_customer"), "{ingest}");
    let eda = work.ok(&["eda"]);
    assert!(eda.contains("high-spend outliers"), "{eda}");
    let segment = work.ok(&["segment"]);
    assert!(segment.contains("best k"), "{segment}");
    let train = work.ok(&["train"]);
    assert!(train.contains("← final"), "{train}");
    let explain = work.ok(&["explain"]);
    assert!(explain.contains("exact SHAP"), "{explain}");
    work.ok(&["export"]);
    // Re-running one stage leaves the others' tables in place.
    work.ok(&["segment"]);
    assert!(work.path().join("out/dashboard.html").exists());
}

#[test]
fn a_stage_before_its_inputs_says_what_to_run() {
    let work = Workdir::new();
    let err = work.fails(&["segment"], 2);
    assert!(
        err.contains("customer_features") && err.contains("fluz eda"),
        "{err}"
    );
    let err = work.fails(&["explain"], 2);
    assert!(err.contains("fluz train"), "{err}");
}

#[test]
fn unknown_config_key_is_a_user_error_naming_the_key() {
    let work = Workdir::new();
    work.write_config("[segment]\nk_maxx = 4\n");
    let err = work.fails(&["ingest"], 2);
    assert!(
        err.contains("k_maxx") && err.contains("config.toml"),
        "{err}"
    );
}

#[test]
fn out_of_range_config_value_is_named() {
    let work = Workdir::new();
    work.write_config("[train]\nn_folds = 1\n");
    let err = work.fails(&["train"], 2);
    assert!(err.contains("[train] n_folds"), "{err}");
}

#[test]
fn missing_config_file_given_explicitly_is_an_error() {
    let work = Workdir::new();
    let err = work.fails(&["--config", "nope.toml", "ingest"], 2);
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn show_settings_masks_the_password() {
    let work = Workdir::new();
    let stdout = work.ok(&["--show-settings"]);
    assert!(stdout.contains("kind = \"parquet\""), "{stdout}");
    let mut command = work.command(&["--show-settings", "--store", "postgres"]);
    command.env("FLUZ_DATABASE_URL", "postgres://bob:hunter2@localhost/db");
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        text.contains("bob:***@localhost") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn bad_input_leaves_the_store_unchanged() {
    let work = Workdir::new();
    work.ok(&["ingest"]);
    let before = work.snapshot("warehouse");
    assert!(!before.is_empty());
    let bad = work.path().join("bad.csv");
    std::fs::write(
        &bad,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,A,x,2,12/1/2010 8:26,2.5,17850,UK\n2,A,x,2,12/1/2010 8:26,1e400,17850,UK\n",
    )
    .unwrap();
    let err = work.fails(&["ingest", "--retail", bad.to_str().unwrap()], 2);
    assert!(err.contains("bad.csv: line 3, column UnitPrice"), "{err}");
    assert_eq!(
        work.snapshot("warehouse"),
        before,
        "the store changed after a failed ingest"
    );
    // With skipping, the bad row is counted.
    work.ok(&[
        "ingest",
        "--skip-bad-rows",
        "--retail",
        bad.to_str().unwrap(),
    ]);
    let report = work.ok(&["export"]);
    assert!(report.contains("export"));
    let csv = std::fs::read_to_string(work.path().join("out/ingest_report.csv")).unwrap();
    assert!(
        csv.contains("retail,raw,2\nretail,skip_bad_rows,1\n"),
        "{csv}"
    );
}

#[test]
fn a_second_run_on_a_locked_store_refuses() {
    let work = Workdir::new();
    work.write_config("[store]\nlock_timeout_secs = 0\n");
    std::fs::create_dir_all(work.path().join("warehouse")).unwrap();
    let _held = fluz::store::lock::LockFile::acquire(&work.path().join("warehouse"), 0).unwrap();
    let err = work.fails(&["ingest"], 2);
    assert!(err.contains("another fluz run is using the store"), "{err}");
    assert!(!work.path().join("warehouse/transactions.parquet").exists());
}

#[test]
fn a_second_run_waits_for_the_lock_by_default() {
    // The default `lock_timeout_secs` (10) outlasts a run that releases the lock after 1 s:
    // the second run waits, then does its work.
    let work = Workdir::new();
    std::fs::create_dir_all(work.path().join("warehouse")).unwrap();
    let held = fluz::store::lock::LockFile::acquire(&work.path().join("warehouse"), 0).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        drop(held);
    });
    work.ok(&["ingest"]);
    release.join().unwrap();
    assert!(work.path().join("warehouse/transactions.parquet").exists());
}

#[test]
fn run_all_holds_its_store_session_between_stages() {
    // run-all pauses after eda (a test hook) while holding its one store session; an ingest of
    // other data then must be refused as locked, and run-all must finish with its own tables.
    let work = Workdir::new();
    work.write_config("[store]\nlock_timeout_secs = 0\n");
    let other = work.path().join("other.csv");
    std::fs::write(
        &other,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
         1,A1,X,1,12/1/2010 8:26,1.5,1,France\n",
    )
    .unwrap();
    let hook = work.path().join("paused");
    let mut run_all = work
        .command(&["-q", "run-all"])
        .env("FLUZ_TEST_PAUSE_AFTER", format!("eda:{}", hook.display()))
        .spawn()
        .expect("spawn run-all");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !hook.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "run-all never reached the pause after eda"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = work.fails(&["-q", "ingest", "--retail", other.to_str().unwrap()], 2);
    assert!(err.contains("another fluz run is using the store"), "{err}");
    std::fs::remove_file(&hook).unwrap();
    let status = run_all.wait().unwrap();
    assert!(status.success(), "run-all failed after the pause: {status}");
    // run-all's own tables: the sample's customers, not the one customer of other.csv.
    let segments = std::fs::read_to_string(work.path().join("out/customer_segments.csv")).unwrap();
    assert!(
        segments.lines().count() > 100,
        "{}",
        segments.lines().count()
    );
    let ingest = work.ok(&["ingest", "--retail", other.to_str().unwrap()]);
    assert!(ingest.contains("1 customers"), "{ingest}");
}

#[test]
fn generate_is_deterministic_and_reproduces_the_sample() {
    let work = Workdir::new();
    work.ok(&[
        "generate",
        "--out",
        "g1",
        "--customers",
        "60",
        "--seed",
        "7",
    ]);
    work.ok(&[
        "generate",
        "--out",
        "g2",
        "--customers",
        "60",
        "--seed",
        "7",
    ]);
    for file in [
        "online_retail.csv.gz",
        "facebook_combined.txt",
        "yelp_academic_dataset_business.json",
    ] {
        let a = std::fs::read(work.path().join("g1").join(file)).unwrap();
        let b = std::fs::read(work.path().join("g2").join(file)).unwrap();
        assert!(a == b, "{file} differs between two runs with one seed");
    }
    work.ok(&[
        "generate",
        "--out",
        "sample",
        "--customers",
        "500",
        "--seed",
        "42",
    ]);
    for file in [
        "online_retail.csv.gz",
        "facebook_combined.txt",
        "yelp_academic_dataset_business.json",
    ] {
        let ours = std::fs::read(work.path().join("sample").join(file)).unwrap();
        let shipped = std::fs::read(common::repo().join("data/sample").join(file)).unwrap();
        assert!(
            ours == shipped,
            "data/sample/{file} is not what `fluz generate --customers 500 --seed 42` makes"
        );
    }
}

#[test]
fn no_subcommand_is_a_user_error() {
    let work = Workdir::new();
    let err = work.fails(&[], 2);
    assert!(err.contains("--help"), "{err}");
}
