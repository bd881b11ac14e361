//! Tests on the real public datasets in `../shared/data` (see PROVENANCE.md there). Each test
//! prints a SKIPPED line when the folder is absent outside CI, and fails under CI.

mod common;

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

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
    // The social graph: 4,039 nodes, every customer linked to one of them, whose degree and
    // PageRank the customer carries.
    let read = |table: &str| {
        let file =
            std::fs::File::open(work.path().join(format!("warehouse/{table}.parquet"))).unwrap();
        ParquetReader::new(file).finish().unwrap()
    };
    let edges = read("social_edges");
    let ids = |column: &str| -> Vec<i64> {
        let values = edges.column(column).unwrap().i64().unwrap();
        values.into_no_null_iter().collect()
    };
    let (a, b) = (ids("node_a"), ids("node_b"));
    let mut degree: HashMap<i64, i64> = HashMap::new();
    for (&x, &y) in a.iter().zip(&b) {
        *degree.entry(x).or_default() += 1;
        *degree.entry(y).or_default() += 1;
    }
    assert_eq!(degree.len(), 4_039);
    let features = read("customer_features");
    assert_eq!(features.height(), 4_338);
    let nodes = features.column("social_node").unwrap().i64().unwrap();
    let degrees = features.column("social_degree").unwrap().i64().unwrap();
    let ranks = features.column("social_pagerank").unwrap().f64().unwrap();
    let mut linked = std::collections::HashSet::new();
    for i in 0..features.height() {
        let node = nodes.get(i).unwrap();
        assert_eq!(
            degrees.get(i),
            degree.get(&node).copied(),
            "customer row {i}"
        );
        let rank = ranks.get(i).unwrap();
        assert!(
            rank > 0.0 && rank < 1.0,
            "customer row {i}: PageRank {rank}"
        );
        linked.insert(node);
    }
    // 4,338 customers hashed onto 4,039 nodes reach most of them.
    assert!(linked.len() > 2_500, "{}", linked.len());
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
