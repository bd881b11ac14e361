//! `fluz clv` end to end: the CDNOW reproduction of the published BG/NBD and Gamma-Gamma
//! parameters (from the purchases and from both RFM summaries), and hostile CLV inputs — each
//! refused with exit code 2 and a message naming the file, line and column, the warehouse left
//! byte for byte as it was.

mod common;

use std::path::PathBuf;

use common::Workdir;
use polars::prelude::*;

fn read_table(work: &Workdir, table: &str) -> DataFrame {
    let path = work
        .path()
        .join("warehouse")
        .join(format!("{table}.parquet"));
    let file = std::fs::File::open(&path).unwrap_or_else(|_| panic!("{} missing", path.display()));
    ParquetReader::new(file).finish().unwrap()
}

/// (model, parameter) → (value, std_error, log_likelihood, n_customers).
fn parameters(work: &Workdir) -> Vec<(String, String, f64, Option<f64>, f64, i64)> {
    let t = read_table(work, "clv_model");
    let model = t.column("model").unwrap().str().unwrap().clone();
    let parameter = t.column("parameter").unwrap().str().unwrap().clone();
    let value = t.column("value").unwrap().f64().unwrap().clone();
    let se = t.column("std_error").unwrap().f64().unwrap().clone();
    let ll = t.column("log_likelihood").unwrap().f64().unwrap().clone();
    let n = t.column("n_customers").unwrap().i64().unwrap().clone();
    (0..t.height())
        .map(|i| {
            (
                model.get(i).unwrap().to_string(),
                parameter.get(i).unwrap().to_string(),
                value.get(i).unwrap(),
                se.get(i),
                ll.get(i).unwrap(),
                n.get(i).unwrap(),
            )
        })
        .collect()
}

/// `value` rounded to 3 significant digits equals `published` rounded the same way.
fn same_3_sig(value: f64, published: f64) -> bool {
    let round = |v: f64| {
        let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
        (v * scale).round() / scale
    };
    round(value) == round(published)
}

fn assert_published(work: &Workdir, with_gamma_gamma: bool) {
    let rows = parameters(work);
    let get = |model: &str, parameter: &str| {
        rows.iter()
            .find(|r| r.0 == model && r.1 == parameter)
            .unwrap_or_else(|| panic!("{model} {parameter} missing from clv_model: {rows:?}"))
            .clone()
    };
    for (parameter, published) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        let row = get("bgnbd", parameter);
        assert!(
            same_3_sig(row.2, published),
            "BG/NBD {parameter} = {} vs published {published}",
            row.2
        );
        let se = row.3.expect("a standard error");
        assert!(se > 0.0 && se < row.2, "BG/NBD {parameter} std error {se}");
        assert!((row.4 - -9582.4).abs() < 0.05, "log-likelihood {}", row.4);
        assert_eq!(row.5, 2357);
    }
    if with_gamma_gamma {
        for (parameter, published) in [("p", 6.25), ("q", 3.74), ("v", 15.44)] {
            let row = get("gamma_gamma", parameter);
            assert!(
                same_3_sig(row.2, published),
                "Gamma-Gamma {parameter} = {} vs {published}",
                row.2
            );
            assert_eq!(row.5, 946);
        }
    }
}

fn cdnow_config(work: &Workdir, input: &str) {
    work.write_raw_config(&format!(
        "[clv]\n{input}\ntime_unit = \"weeks\"\nmargin = 0.08\n",
    ));
}

#[test]
fn cdnow_purchases_reproduce_the_published_parameters() {
    let Some(data) = common::shared_data("cdnow_purchases_reproduce_the_published_parameters")
    else {
        return;
    };
    let work = Workdir::new();
    cdnow_config(
        &work,
        &format!(
            "transactions = {:?}\ncalibration_end = \"1997-09-30\"\nobservation_end = \"1998-06-30\"",
            data.join("CDNOW_sample.txt")
        ),
    );
    let stdout = work.ok(&["clv"]);
    assert!(stdout.contains("2357 customers"), "{stdout}");
    assert!(
        stdout.contains("1411 with no repeat purchase excluded"),
        "{stdout}"
    );
    assert_published(&work, true);
    // The holdout: 1,882 repeat purchase days observed in the 39 weeks, about 1,653 expected.
    let holdout = read_table(&work, "clv_holdout");
    let labels = holdout
        .column("calibration_frequency")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    let last = holdout.height() - 1;
    assert_eq!(labels.get(last), Some("all"));
    assert_eq!(labels.get(7), Some("7+"));
    let actual = holdout
        .column("actual_total")
        .unwrap()
        .f64()
        .unwrap()
        .get(last)
        .unwrap();
    let expected = holdout
        .column("expected_total")
        .unwrap()
        .f64()
        .unwrap()
        .get(last)
        .unwrap();
    assert_eq!(actual, 1882.0);
    assert!(
        (expected - 1653.0).abs() < 0.01 * 1653.0,
        "expected holdout purchases {expected}"
    );
    let png = std::fs::read(work.path().join("out/clv_holdout.png")).expect("clv_holdout.png");
    assert_eq!(&png[..4], b"\x89PNG");
    // Every customer valued, no NaN anywhere.
    let values = read_table(&work, "customer_value");
    assert_eq!(values.height(), 2357);
    for column in [
        "p_alive",
        "expected_purchases",
        "expected_value",
        "clv",
        "holdout_expected",
    ] {
        let c = values.column(column).unwrap().f64().unwrap();
        assert_eq!(c.null_count(), 0, "{column}");
        assert!(
            c.into_no_null_iter().all(|v| v.is_finite() && v >= 0.0),
            "{column}"
        );
    }
}

#[test]
fn without_a_calibration_end_the_check_refits_without_the_last_days() {
    let Some(data) =
        common::shared_data("without_a_calibration_end_the_check_refits_without_the_last_days")
    else {
        return;
    };
    // The last purchase is on 1998-06-30; 273 days before it is 1997-09-30, the published
    // calibration end: the check is the published fit, the values the fit on all 78 weeks.
    let work = Workdir::new();
    cdnow_config(
        &work,
        &format!(
            "transactions = {:?}\ncheck_days = 273",
            data.join("CDNOW_sample.txt")
        ),
    );
    let stdout = work.ok(&["clv"]);
    assert!(
        stdout.contains("(check: refit without the last 273 days)"),
        "{stdout}"
    );
    let holdout = read_table(&work, "clv_holdout");
    let last = holdout.height() - 1;
    let total = |name: &str| {
        holdout
            .column(name)
            .unwrap()
            .f64()
            .unwrap()
            .get(last)
            .unwrap()
    };
    assert_eq!(total("actual_total"), 1882.0);
    assert!((total("expected_total") - 1653.0).abs() < 0.01 * 1653.0);
    assert!(work.path().join("out/clv_holdout.png").exists());
    // The values' fit saw all 78 weeks: not the calibration parameters.
    let rows = parameters(&work);
    let r = rows
        .iter()
        .find(|r| r.0 == "bgnbd" && r.1 == "r")
        .unwrap()
        .2;
    assert!(!same_3_sig(r, 0.243), "r = {r} is the calibration fit's");
    // The manifest keeps the check's parameters: the published ones.
    let manifest = read_table(&work, "run_manifest");
    let details = manifest
        .column("details")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    let check = details["holdout_check_bgnbd"]
        .as_array()
        .expect("check parameters");
    for (value, published) in check.iter().zip([0.243, 4.414, 0.793, 2.426]) {
        assert!(same_3_sig(value.as_f64().unwrap(), published), "{check:?}");
    }
    // Every customer valued; the holdout columns from the check.
    let values = read_table(&work, "customer_value");
    assert_eq!(values.height(), 2357);
    let holdout_frequency = values.column("holdout_frequency").unwrap().i64().unwrap();
    assert_eq!(holdout_frequency.null_count(), 0);
    assert_eq!(holdout_frequency.sum(), Some(1882));
}

#[test]
fn cdnow_summaries_reproduce_the_published_parameters() {
    let Some(data) = common::shared_data("cdnow_summaries_reproduce_the_published_parameters")
    else {
        return;
    };
    let work = Workdir::new();
    cdnow_config(
        &work,
        &format!(
            "rfm = {:?}",
            data.join("cdnow_customers_summary_with_transactions.csv")
        ),
    );
    work.ok(&["clv"]);
    assert_published(&work, true);
    // Without monetary values: the BG/NBD alone, CLV left empty.
    cdnow_config(
        &work,
        &format!("rfm = {:?}", data.join("cdnow_customers_summary.csv")),
    );
    let stdout = work.ok(&["clv"]);
    assert!(stdout.contains("no monetary_value"), "{stdout}");
    assert_published(&work, false);
    let values = read_table(&work, "customer_value");
    assert_eq!(values.column("clv").unwrap().null_count(), 2357);
}

// ---------------------------------------------------------------------------------------------
// Hostile inputs
// ---------------------------------------------------------------------------------------------

/// A good RFM summary: 600 customers drawn from a CDNOW-like BG/NBD, with mean values that
/// vary by customer; returns the CSV text and how many have no repeat purchase.
fn good_rfm() -> (String, usize) {
    let (x, tx, t) = fluz::clv::api::simulate_cdnow_like(600, 5);
    let mut text = String::from("customer_id,frequency,recency,T,monetary_value\n");
    let mut zero = 0;
    for i in 0..x.len() {
        let m = if x[i] > 0.0 {
            8.0 + (i % 23) as f64 * 2.5
        } else {
            0.0
        };
        zero += usize::from(x[i] == 0.0);
        text.push_str(&format!("{},{},{},{},{}\n", i + 1, x[i], tx[i], t[i], m));
    }
    (text, zero)
}

/// A workdir whose store already holds a good CLV run; returns it and the warehouse snapshot.
fn with_good_run() -> (Workdir, Vec<(String, Vec<u8>)>) {
    let work = Workdir::new();
    let good = work.path().join("good.csv");
    std::fs::write(&good, good_rfm().0).unwrap();
    work.write_raw_config(&format!("[clv]\nrfm = {good:?}\nmargin = 0.1\n"));
    work.ok(&["clv"]);
    let snapshot = work.snapshot("warehouse");
    assert!(snapshot
        .iter()
        .any(|(name, _)| name == "customer_value.parquet"));
    (work, snapshot)
}

/// Writes `text` as the input file (`rfm` or `transactions`), runs `fluz clv`, and asserts
/// exit code 2, every `needles` in the message, and the untouched warehouse.
fn refused(key: &str, file: &str, text: &str, extra: &str, needles: &[&str]) {
    let (work, before) = with_good_run();
    let path: PathBuf = work.path().join(file);
    std::fs::write(&path, text).unwrap();
    work.write_raw_config(&format!("[clv]\n{key} = {path:?}\nmargin = 0.1\n{extra}"));
    let err = work.fails(&["clv"], 2);
    for needle in needles {
        assert!(err.contains(needle), "message lacks {needle:?}: {err}");
    }
    assert!(
        err.contains(&path.display().to_string()),
        "message does not name the file: {err}"
    );
    assert_eq!(work.snapshot("warehouse"), before, "the warehouse changed");
}

#[test]
fn rfm_recency_after_the_calibration_end_is_refused() {
    refused(
        "rfm",
        "late.csv",
        "customer_id,frequency,recency,T\n1,2,3,38\n2,1,40.5,38.86\n",
        "",
        &["line 3, column recency", "after the calibration end"],
    );
}

#[test]
fn rfm_negative_value_is_refused() {
    refused(
        "rfm",
        "zero.csv",
        "customer_id,frequency,recency,T,monetary_value\n1,2,3,38,-0.5\n",
        "",
        &["line 2, column monetary_value", "negative"],
    );
}

#[test]
fn rfm_empty_input_is_refused() {
    refused(
        "rfm",
        "empty.csv",
        "customer_id,frequency,recency,T\n",
        "",
        &["no customers"],
    );
    refused("rfm", "nothing.csv", "", "", &["empty"]);
}

#[test]
fn purchases_negative_value_is_refused() {
    refused(
        "transactions",
        "returns.csv",
        "customer_id,date,value\n1,2011-01-02,5.0\n1,2011-02-02,-5.0\n",
        "",
        &["line 3, column value", "negative"],
    );
}

#[test]
fn purchases_bad_date_is_refused() {
    refused(
        "transactions",
        "cdnow.txt",
        " 00004 0001 19970101  2   29.33\n 00004 0001 19971301  2   29.73\n",
        "",
        &["line 2, column date"],
    );
}

#[test]
fn purchases_all_after_the_calibration_end_are_refused() {
    refused(
        "transactions",
        "late.txt",
        " 00004 0001 19980101  2   29.33\n 00004 0001 19980201  2   29.73\n",
        "calibration_end = \"1997-09-30\"\n",
        &["no customer made a purchase on or before the calibration end 1997-09-30"],
    );
}

#[test]
fn only_one_purchase_customers_cannot_be_fitted() {
    refused(
        "transactions",
        "once.txt",
        " 00001 19970101 1 10.0\n 00002 19970102 1 12.0\n 00003 19970105 2 20.0\n",
        "",
        &["no customer has a repeat purchase"],
    );
}

#[test]
fn one_purchase_customers_are_excluded_from_gamma_gamma_and_counted() {
    let (work, _) = with_good_run();
    let stdout = work.ok(&["clv"]);
    let zero = good_rfm().1;
    assert!(zero > 100 && zero < 500, "{zero}");
    assert!(
        stdout.contains(&format!(
            "on {} customers ({zero} with no repeat purchase excluded)",
            600 - zero
        )),
        "{stdout}"
    );
    let values = read_table(&work, "customer_value");
    let x = values.column("frequency").unwrap().i64().unwrap().clone();
    let alive = values.column("p_alive").unwrap().f64().unwrap().clone();
    let ev = values
        .column("expected_value")
        .unwrap()
        .f64()
        .unwrap()
        .clone();
    for i in 0..values.height() {
        if x.get(i) == Some(0) {
            // No repeat purchase: alive by the model, valued at the population mean.
            assert_eq!(alive.get(i), Some(1.0));
            assert!(ev.get(i).unwrap() > 0.0);
        }
    }
}
