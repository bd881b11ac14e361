//! Criterion benchmarks of the CLV fits (issue 18's speed targets: the CDNOW and UCI fits
//! ≤ 50 ms each, 1,000,000 generated customers ≤ 2 s). Run with `cargo bench --bench clv`.
//! The CDNOW and UCI benches need `../shared/data` beside the checkout (skipped, with a
//! message, without it); the generated one always runs.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use fluz::clv::api;
use fluz::config::{Encoding, OnBadRow};

fn shared(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is not beside the checkout", path.display());
        None
    }
}

fn bench_cdnow(c: &mut Criterion) {
    let Some(path) = shared("cdnow_customers_summary_with_transactions.csv") else {
        return;
    };
    let (x, tx, t, m) = api::read_rfm(&path).unwrap();
    let mut group = c.benchmark_group("clv_cdnow");
    group.bench_function("bgnbd_fit_2357", |b| {
        b.iter(|| api::fit_bgnbd(&x, &tx, &t, 0.0).unwrap())
    });
    group.bench_function("gamma_gamma_fit_946", |b| {
        b.iter(|| api::fit_gamma_gamma(&x, &m, 0.0).unwrap())
    });
    group.finish();
}

fn bench_uci(c: &mut Criterion) {
    let Some(path) = shared("online_retail.csv.gz") else {
        return;
    };
    let options = fluz::sources::ReadOptions {
        on_bad_row: OnBadRow::Error,
        max_decompressed_bytes: 1 << 33,
    };
    let parsed = fluz::sources::retail::read_csv(&path, Encoding::Auto, options).unwrap();
    let (transactions, _) = fluz::sources::retail::clean(parsed, true).unwrap();
    // Calibration to 2011-09-09 (day 15226 since 1970-01-01).
    let calibration_end = fluz::sources::dates::days_from_civil(2011, 9, 9);
    let (x, tx, t, m) = api::rfm_from_transactions(&transactions, Some(calibration_end)).unwrap();
    let mut group = c.benchmark_group("clv_uci");
    group.bench_function(format!("bgnbd_fit_{}", x.len()), |b| {
        b.iter(|| api::fit_bgnbd(&x, &tx, &t, 0.0).unwrap())
    });
    group.bench_function("gamma_gamma_fit", |b| {
        b.iter(|| api::fit_gamma_gamma(&x, &m, 0.0).unwrap())
    });
    group.finish();
}

fn bench_generated(c: &mut Criterion) {
    let (x, tx, t) = api::simulate_cdnow_like(1_000_000, 42);
    let mut group = c.benchmark_group("clv_generated");
    group.sample_size(10);
    group.bench_function("bgnbd_fit_1000000", |b| {
        b.iter(|| api::fit_bgnbd(&x, &tx, &t, 0.0).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_cdnow, bench_uci, bench_generated);
criterion_main!(benches);
