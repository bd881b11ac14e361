//! Tests on the real public datasets in `../shared/data` (see PROVENANCE.md there). Each test
//! prints a SKIPPED line when the folder is absent outside CI, and fails under CI.

mod common;

use std::path::Path;

use common::{shared_data, Workdir};
use fluz::config::{Encoding, OnBadRow};
use fluz::sources::{retail, xlsx, ReadOptions};

fn real_config(work: &Workdir, data: &Path, retail_file: &str, extra: &str) {
    work.write_raw_config(&format!(
        "[data]\nretail = {:?}\nsocial = {:?}\nmerchants = {:?}\n{extra}",
        data.join(retail_file),
        data.join("facebook_combined.txt"),
        data.join("yelp_academic_dataset_business.head5000.json"),
    ));
}

#[test]
fn real_csv_and_xlsx_give_the_spec_counts_and_identical_transactions() {
    let Some(data) =
        shared_data("real_csv_and_xlsx_give_the_spec_counts_and_identical_transactions")
    else {
        return;
    };
    let options = ReadOptions {
        on_bad_row: OnBadRow::Error,
        max_decompressed_bytes: 1 << 32,
    };
    let from_csv =
        retail::read_csv(&data.join("online_retail.csv.gz"), Encoding::Auto, options).unwrap();
    let (csv_table, csv_steps) = retail::clean(from_csv, true).unwrap();
    let counts: Vec<usize> = csv_steps.iter().map(|s| s.rows).collect();
    assert_eq!(
        counts,
        vec![541_909, 406_829, 397_924, 397_924, 397_884, 392_692]
    );
    let customers = csv_table.column("customer_id").unwrap().n_unique().unwrap();
    assert_eq!(customers, 4_338);
    let from_xlsx = xlsx::read_xlsx(&data.join("Online Retail.xlsx"), "", options).unwrap();
    let (xlsx_table, xlsx_steps) = retail::clean(from_xlsx, true).unwrap();
    assert_eq!(csv_steps, xlsx_steps);
    assert!(
        csv_table.equals_missing(&xlsx_table),
        "xlsx and csv.gz give different transactions tables"
    );
}

#[test]
fn real_ingest_eda_and_segment() {
    let Some(data) = shared_data("real_ingest_eda_and_segment") else {
        return;
    };
    let work = Workdir::new();
    real_config(&work, &data, "online_retail.csv.gz", "");
    let ingest = work.ok(&["ingest"]);
    assert!(ingest.contains("4338 customers"), "{ingest}");
    let edges: Vec<&str> = ingest.lines().filter(|l| l.starts_with("social")).collect();
    assert!(
        edges
            .iter()
            .any(|l| l.contains("drop_duplicate_edges") && l.trim_end().ends_with("88234")),
        "{ingest}"
    );
    assert!(
        ingest.lines().any(|l| l.starts_with("merchants")
            && l.contains("drop_duplicate_ids")
            && l.trim_end().ends_with("5000")),
        "{ingest}"
    );
    let eda = work.ok(&["eda"]);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.path().join("out/eda_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["customers"], 4338, "{eda}");
    assert!(
        (summary["mean_spend"].as_f64().unwrap() - 2048.69).abs() < 0.005,
        "{}",
        summary["mean_spend"]
    );
    assert_eq!(summary["spend_outliers"]["high"], 425);
    let segment = work.ok(&["segment"]);
    assert!(segment.contains("best k = 2"), "{segment}");
    // The social graph: 4,039 nodes, every customer linked to one of them.
    let features = std::fs::read(work.path().join("warehouse/customer_features.parquet")).unwrap();
    assert!(!features.is_empty());
}

#[test]
fn raw_features_reproduce_the_tiny_cluster_artefact() {
    let Some(data) = shared_data("raw_features_reproduce_the_tiny_cluster_artefact") else {
        return;
    };
    let work = Workdir::new();
    real_config(
        &work,
        &data,
        "online_retail.csv.gz",
        "[segment]\ntransform = \"none\"\n",
    );
    work.ok(&["ingest"]);
    work.ok(&["eda"]);
    let segment = work.ok(&["segment"]);
    // With raw heavy-tailed features the best silhouette comes with a tiny cluster.
    let best = segment
        .lines()
        .find(|l| l.contains("← best"))
        .unwrap_or_else(|| panic!("{segment}"));
    let smallest: usize = best.split_whitespace().nth(5).unwrap().parse().unwrap();
    assert!(smallest <= 30, "{best}");
}
