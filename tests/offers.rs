//! Offer-test logs fed to the real `fluz uplift`: a good log (CSV, CSV.gz, Parquet) is learned
//! from; every bad log is refused with exit code 2 and a message naming the file, the line and
//! the column (or the arm), and the warehouse stays byte-for-byte as it was.

mod common;

use std::io::Write;

use common::Workdir;

const HEADER: &str = "id,arm,visit,spend,age,city";

/// A good three-arm log of `n` customers: arm by id, a visit and a spend that respond to the
/// arm more for older customers (so the learners have something to find).
fn good_rows(n: usize) -> Vec<String> {
    (1..=n)
        .map(|id| {
            let arm = ["none", "two", "five"][id % 3];
            let age = 20 + (id * 7919) % 50;
            let city = ["Leeds", "York", "Bath"][(id * 31) % 3];
            let lift = match arm {
                "none" => 0.0,
                "two" => 0.5,
                _ => 1.0,
            } * (age as f64 / 40.0);
            let noise = ((id * 2_654_435_761) % 1000) as f64 / 1000.0;
            let visit = u8::from(noise < 0.2 + 0.3 * lift.min(1.0));
            let spend = (10.0 + 8.0 * lift + 4.0 * noise).max(0.0);
            format!("{id},{arm},{visit},{spend:.2},{age},{city}")
        })
        .collect()
}

fn log_text(rows: &[String]) -> String {
    let mut text = String::from(HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

const OFFERS: &str = r#"
[offers]
log = "log.csv"
customer_column = "id"
arm_column = "arm"
control_arm = "none"
arm_rates = { two = 0.02, five = 0.05 }
margin = 0.2
outcomes = ["visit", "spend"]
features = ["age", "city"]
min_arm_rows = 30
bootstrap = 100
base_trees = 30
"#;

/// A work folder whose warehouse holds a good uplift run, and its snapshot.
struct Studied {
    work: Workdir,
    before: Vec<(String, Vec<u8>)>,
}

impl Studied {
    fn new() -> Self {
        let work = Workdir::new();
        work.write_config(OFFERS);
        std::fs::write(work.path().join("log.csv"), log_text(&good_rows(600))).unwrap();
        work.ok(&["uplift"]);
        let before = work.snapshot("warehouse");
        assert!(before.iter().any(|(name, _)| name == "offers.parquet"));
        Self { work, before }
    }

    /// Feeds `rows` as the log; asserts exit code 2, `message` in stderr and an unchanged store.
    fn refuses(&self, rows: &[String], message: &str) {
        std::fs::write(self.work.path().join("log.csv"), log_text(rows)).unwrap();
        let err = self.work.fails(&["uplift"], 2);
        assert!(err.contains("log.csv"), "{err}");
        assert!(err.contains(message), "expected {message:?} in:\n{err}");
        assert!(
            self.work.snapshot("warehouse") == self.before,
            "the warehouse changed after a refused log"
        );
    }
}

#[test]
fn a_baseline_must_be_a_positive_feature() {
    let case = Studied::new();
    for (key, message) in [
        ("income", "config key [offers] baseline: the offer test's features have no \"income\""),
        ("city=Leeds", "config key [offers] baseline: city=Leeds of customer 1 is 0, but a baseline must be positive"),
    ] {
        case.work
            .write_config(&format!("{OFFERS}baseline = \"{key}\"\n"));
        let err = case.work.fails(&["uplift"], 2);
        assert!(err.contains(message), "expected {message:?} in:\n{err}");
        assert!(case.work.snapshot("warehouse") == case.before);
    }
    // A positive feature works, and changes what the learners predict.
    case.work
        .write_config(&format!("{OFFERS}baseline = \"age\"\n"));
    case.work.ok(&["uplift"]);
    assert!(case.work.snapshot("warehouse") != case.before);
}

#[test]
fn unknown_arm_value_is_named() {
    let case = Studied::new();
    let mut rows = good_rows(600);
    rows[3] = "4,ten,0,1.0,30,York".into();
    case.refuses(&rows, "line 5, column arm: unknown arm value \"ten\"");
}

#[test]
fn a_log_without_control_rows_is_refused() {
    let case = Studied::new();
    let rows: Vec<String> = good_rows(600)
        .into_iter()
        .filter(|r| !r.contains(",none,"))
        .collect();
    case.refuses(&rows, "no control rows: no row has \"none\" in column arm");
}

#[test]
fn an_arm_below_the_minimum_is_refused() {
    let case = Studied::new();
    let mut rows: Vec<String> = good_rows(600)
        .into_iter()
        .filter(|r| !r.contains(",five,"))
        .collect();
    rows.push("9001,five,0,3.0,30,York".into());
    case.refuses(
        &rows,
        "arm \"five\" (column arm) has 1 rows, fewer than [offers] min_arm_rows = 30",
    );
}

#[test]
fn a_duplicated_customer_is_refused() {
    let case = Studied::new();
    let mut rows = good_rows(600);
    rows[5] = "3,none,0,1.0,30,York".into();
    case.refuses(
        &rows,
        "line 7, column id: customer 3 appears twice (first on line 4)",
    );
}

#[test]
fn a_negative_spend_is_refused() {
    let case = Studied::new();
    let mut rows = good_rows(600);
    rows[1] = "2,two,0,-2.5,30,York".into();
    case.refuses(&rows, "line 3, column spend: negative spend -2.5");
}

#[test]
fn a_missing_outcome_is_refused() {
    let case = Studied::new();
    let mut rows = good_rows(600);
    rows[2] = "3,none,,1.0,30,York".into();
    case.refuses(&rows, "line 4, column visit: missing outcome");
}

#[test]
fn gzip_and_parquet_logs_give_the_same_tables_as_csv() {
    let case = Studied::new();
    let table = |work: &Workdir, name: &str| {
        std::fs::read(work.path().join("out").join(format!("{name}.csv"))).unwrap_or_default()
    };
    case.work.ok(&["export"]);
    let csv_offers = table(&case.work, "offers");
    let csv_metrics = table(&case.work, "uplift_metrics");
    assert!(!csv_offers.is_empty() && !csv_metrics.is_empty());

    // CSV.gz.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(log_text(&good_rows(600)).as_bytes()).unwrap();
    std::fs::write(case.work.path().join("log.csv.gz"), gz.finish().unwrap()).unwrap();
    case.work
        .write_config(&OFFERS.replace("log = \"log.csv\"", "log = \"log.csv.gz\""));
    case.work.ok(&["uplift"]);
    case.work.ok(&["export"]);
    assert!(table(&case.work, "offers") == csv_offers);
    assert!(table(&case.work, "uplift_metrics") == csv_metrics);

    // Parquet, with numbers stored as numbers.
    use polars::prelude::*;
    let rows = good_rows(600);
    let cells: Vec<Vec<&str>> = rows.iter().map(|r| r.split(',').collect()).collect();
    let column = |j: usize| cells.iter().map(|c| c[j]).collect::<Vec<&str>>();
    let number = |j: usize| {
        column(j)
            .iter()
            .map(|v| v.parse::<f64>().unwrap())
            .collect::<Vec<f64>>()
    };
    let mut frame = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "id".into(),
                column(0)
                    .iter()
                    .map(|v| v.parse::<i64>().unwrap())
                    .collect::<Vec<i64>>(),
            ),
            Column::new("arm".into(), column(1)),
            Column::new("visit".into(), number(2)),
            Column::new("spend".into(), number(3)),
            Column::new("age".into(), number(4)),
            Column::new("city".into(), column(5)),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(case.work.path().join("log.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut frame).unwrap();
    case.work
        .write_config(&OFFERS.replace("log = \"log.csv\"", "log = \"log.parquet\""));
    case.work.ok(&["uplift"]);
    case.work.ok(&["export"]);
    assert!(table(&case.work, "offers") == csv_offers);
    assert!(table(&case.work, "uplift_metrics") == csv_metrics);
}

#[test]
fn simulate_offers_then_uplift_on_the_sample() {
    let work = Workdir::new();
    work.ok(&["-q", "ingest"]);
    work.ok(&["-q", "eda"]);
    let out = work.ok(&["simulate-offers"]);
    assert!(out.contains("simulate-offers:"), "{out}");
    let out = work.ok(&["uplift"]);
    assert!(out.contains("recommended:"), "{out}");
    work.ok(&["-q", "export"]);
    let metrics =
        std::fs::read_to_string(work.path().join("out").join("uplift_metrics.csv")).unwrap();
    for learner in [
        "t_learner",
        "x_learner",
        "dr_learner",
        "r_learner",
        "everyone:0%",
        "everyone:2%",
        "everyone:5%",
        "random",
        "oracle",
        "recommended",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&format!("{learner},"))),
            "{learner} missing from uplift_metrics.csv:\n{metrics}"
        );
    }
    // The oracle has no regret; its true value is the largest.
    let oracle = metrics
        .lines()
        .find(|l| l.starts_with("oracle,"))
        .unwrap()
        .to_string();
    assert!(
        oracle.contains(",0,") || oracle.contains(",0.0,"),
        "{oracle}"
    );
    assert!(work.path().join("out").join("qini.png").exists());
    assert!(work.path().join("out").join("uplift_split.csv").exists());
    // Spend is never negative, so neither is an expected spend nor its cashback cost (the
    // budget allocator refuses a negative cost).
    let predictions =
        std::fs::read_to_string(work.path().join("out").join("uplift_predictions.csv")).unwrap();
    let mut lines = predictions.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (outcome, expected, cost) = (col("outcome"), col("expected_outcome"), col("cost"));
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[outcome] != "spend" {
            continue;
        }
        rows += 1;
        assert!(cells[expected].parse::<f64>().unwrap() >= 0.0, "{line}");
        assert!(cells[cost].parse::<f64>().unwrap() >= 0.0, "{line}");
    }
    assert!(rows > 0);
}

/// Reads `out/<name>.csv` as rows of (column → cell).
fn csv_rows(work: &Workdir, name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text =
        std::fs::read_to_string(work.path().join("out").join(format!("{name}.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn the_offer_test_sets_the_rate_to_give_and_train_resets_it() {
    let work = Workdir::new();
    for stage in ["ingest", "eda", "train", "simulate-offers"] {
        work.ok(&["-q", stage]);
    }
    let out = work.ok(&["uplift"]);
    assert!(
        out.contains("cashback_predictions: 500 customers now get the rate of the"),
        "{out}"
    );
    work.ok(&["-q", "export"]);
    // The recommended arm of each customer (money outcome) and its rate from the log.
    let arm_rate: std::collections::HashMap<String, f64> = csv_rows(&work, "offers")
        .into_iter()
        .map(|r| (r["arm"].clone(), r["rate"].parse().unwrap()))
        .collect();
    let recommended: std::collections::HashMap<String, f64> = csv_rows(&work, "uplift_predictions")
        .into_iter()
        .filter(|r| r["outcome"] == "spend" && r["recommended"] == "true")
        .map(|r| (r["customer_id"].clone(), arm_rate[&r["arm"]]))
        .collect();
    let predictions = csv_rows(&work, "cashback_predictions");
    assert_eq!(predictions.len(), 500);
    let mut differ_from_tier = 0;
    for p in &predictions {
        assert!(p["recommended_by"].starts_with("offer test: "), "{p:?}");
        let given: f64 = p["recommended_rate"].parse().unwrap();
        assert_eq!(given, recommended[&p["customer_id"]], "{p:?}");
        if given != p["tier"].parse::<f64>().unwrap() {
            differ_from_tier += 1;
        }
    }
    // The model's tiers are spread over five tiers; the offer test's arms are three rates.
    assert!(differ_from_tier > 100, "{differ_from_tier}");
    let dashboard =
        std::fs::read_to_string(work.path().join("out").join("dashboard.html")).unwrap();
    assert!(dashboard.contains("For comparison, the oracle-label model"));
    assert!(dashboard.contains("from the offer test"));

    // A new model: its tiers are the rate to give again, until the next offer test.
    work.ok(&["-q", "train"]);
    work.ok(&["-q", "export"]);
    for p in csv_rows(&work, "cashback_predictions") {
        assert_eq!(p["recommended_by"], "model");
        assert_eq!(p["recommended_rate"], p["tier"]);
    }
}

/// An external offer-test log on the store's own customers (features looked up in
/// `customer_features`): its customers get the learned rate, everyone else keeps the model's.
#[test]
fn an_external_log_on_the_stores_customers_sets_their_rate_to_give() {
    let work = Workdir::new();
    for stage in ["ingest", "eda", "train", "export"] {
        work.ok(&["-q", stage]);
    }
    let customers: Vec<String> = csv_rows(&work, "customer_features")
        .into_iter()
        .map(|r| r["customer_id"].clone())
        .collect();
    assert_eq!(customers.len(), 500);
    // The first 450 customers were in the test; a spend that answers the rate.
    let mut log = String::from("id,arm,spend\n");
    for (i, id) in customers.iter().take(450).enumerate() {
        let arm = ["none", "two", "five"][i % 3];
        let lift = match arm {
            "none" => 1.0,
            "two" => 1.3,
            _ => 1.4,
        };
        let noise = ((i * 2_654_435_761) % 1000) as f64 / 100.0;
        log.push_str(&format!("{id},{arm},{:.2}\n", 50.0 * lift + noise));
    }
    std::fs::write(work.path().join("log.csv"), log).unwrap();
    work.write_config(
        r#"
[offers]
log = "log.csv"
customer_column = "id"
arm_column = "arm"
control_arm = "none"
arm_rates = { two = 0.02, five = 0.05 }
outcomes = ["spend"]
features = []
min_arm_rows = 30
bootstrap = 100
base_trees = 30
"#,
    );
    let out = work.ok(&["uplift"]);
    assert!(
        out.contains("cashback_predictions: 450 customers now get the rate of the"),
        "{out}"
    );
    work.ok(&["-q", "export"]);
    let arm_rate = |arm: &str| match arm {
        "none" => 0.0,
        "two" => 0.02,
        _ => 0.05,
    };
    let recommended: std::collections::HashMap<String, f64> = csv_rows(&work, "uplift_predictions")
        .into_iter()
        .filter(|r| r["recommended"] == "true")
        .map(|r| (r["customer_id"].clone(), arm_rate(&r["arm"])))
        .collect();
    assert_eq!(recommended.len(), 450);
    let predictions = csv_rows(&work, "cashback_predictions");
    assert_eq!(predictions.len(), 500);
    for p in &predictions {
        let given: f64 = p["recommended_rate"].parse().unwrap();
        match recommended.get(&p["customer_id"]) {
            Some(&rate) => {
                assert!(p["recommended_by"].starts_with("offer test: "), "{p:?}");
                assert_eq!(given, rate, "{p:?}");
            }
            None => {
                assert_eq!(p["recommended_by"], "model", "{p:?}");
                assert_eq!(p["recommended_rate"], p["tier"], "{p:?}");
            }
        }
    }
}
