//! Criterion benchmarks of the hot kernels: retail CSV and xlsx parsing and cleaning, the
//! customer aggregation, k-means, silhouette, tree/forest/boosting fits and TreeSHAP.
//!
//! Run with `cargo bench --bench kernels`. The retail and aggregation benches use the real
//! files in `../shared/data` when they are beside the checkout (the bundled sample otherwise;
//! the xlsx bench is skipped, with a message, without the real workbook).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use fluz::config::{Encoding, OnBadRow};
use fluz::learn::boosting::{fit_boosting, BoostingParams};
use fluz::learn::cart::{fit_tree, MaxFeatures, TreeParams};
use fluz::learn::forest::{fit_forest, ForestParams};
use fluz::learn::matrix::Matrix;
use fluz::segment::kmeans::{kmeans, KMeansParams};
use fluz::segment::metrics::silhouette_exact;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

#[path = "support/regression.rs"]
mod regression;
use regression::regression;

/// `../shared/data/<real>` when it exists, else `data/sample/<sample>`.
fn data_path(real: &str, sample: &str) -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let real = repo.join("../shared/data").join(real);
    if real.exists() {
        real
    } else {
        repo.join("data/sample").join(sample)
    }
}

fn retail_path() -> PathBuf {
    data_path("online_retail.csv.gz", "online_retail.csv.gz")
}

fn points(n: usize, seed: u64) -> Matrix {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let columns: Vec<Vec<f64>> = (0..3)
        .map(|_| {
            (0..n)
                .map(|_| rng.gen::<f64>() * 2.0 - 1.0 + if rng.gen::<bool>() { 2.0 } else { 0.0 })
                .collect()
        })
        .collect();
    Matrix::from_columns(&columns)
}

fn bench_ingest(c: &mut Criterion) {
    let path = retail_path();
    let options = fluz::sources::ReadOptions {
        on_bad_row: OnBadRow::Error,
        max_decompressed_bytes: 1 << 33,
    };
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.bench_function("retail_csv_gz_read_clean", |b| {
        b.iter(|| {
            let parsed = fluz::sources::retail::read_csv(&path, Encoding::Auto, options).unwrap();
            fluz::sources::retail::clean(parsed, true).unwrap()
        })
    });
    let xlsx = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/Online Retail.xlsx");
    if xlsx.exists() {
        group.bench_function("retail_xlsx_read_clean", |b| {
            b.iter(|| {
                let parsed = fluz::sources::xlsx::read_xlsx(&xlsx, "", options).unwrap();
                fluz::sources::retail::clean(parsed, true).unwrap()
            })
        });
    } else {
        eprintln!(
            "ingest/retail_xlsx_read_clean skipped: {} is absent",
            xlsx.display()
        );
    }
    group.finish();

    // The per-customer aggregation (linkage, RFM, PageRank) on the cleaned lines.
    let parsed = fluz::sources::retail::read_csv(&path, Encoding::Auto, options).unwrap();
    let (transactions, _) = fluz::sources::retail::clean(parsed, true).unwrap();
    let (edges, _) = fluz::sources::social::read_edges(
        &data_path("facebook_combined.txt", "facebook_combined.txt"),
        options,
    )
    .unwrap();
    let (merchants, _) = fluz::sources::merchants::read_merchants(
        &data_path(
            "yelp_academic_dataset_business.head5000.json",
            "yelp_academic_dataset_business.json",
        ),
        options,
    )
    .unwrap();
    let params = fluz::commands::params::feature_params(&fluz::config::Config::default());
    let mut group = c.benchmark_group("features");
    group.sample_size(10);
    group.bench_function("customer_features_from_transactions", |b| {
        b.iter(|| {
            fluz::features::customers::customer_features(&transactions, &edges, &merchants, &params)
                .unwrap()
        })
    });
    group.finish();
}

fn bench_segment(c: &mut Criterion) {
    let x = points(4_338, 1);
    let mut group = c.benchmark_group("segment");
    group.sample_size(10);
    group.bench_function("kmeans_k4_ninit10_4338x3", |b| {
        b.iter(|| {
            kmeans(
                &x,
                &KMeansParams {
                    k: 4,
                    n_init: 10,
                    max_iter: 300,
                    tol: 1e-4,
                    seed: 42,
                },
            )
            .unwrap()
        })
    });
    let fit = kmeans(
        &x,
        &KMeansParams {
            k: 4,
            n_init: 1,
            max_iter: 300,
            tol: 1e-4,
            seed: 42,
        },
    )
    .unwrap();
    group.bench_function("silhouette_exact_4338x3", |b| {
        b.iter(|| silhouette_exact(&x, &fit.labels, 4))
    });
    group.finish();
}

fn bench_learners(c: &mut Criterion) {
    let (x, y) = regression(3_500, 2);
    let mut group = c.benchmark_group("learn");
    group.sample_size(10);
    group.bench_function("tree_depth12_3500x14", |b| {
        b.iter(|| {
            fit_tree(
                &x,
                &y,
                &TreeParams {
                    max_depth: Some(12),
                    ..TreeParams::default()
                },
                42,
            )
        })
    });
    group.bench_function("forest_300_trees_3500x14", |b| {
        b.iter(|| {
            fit_forest(
                &x,
                &y,
                &ForestParams {
                    n_trees: 300,
                    tree: TreeParams {
                        max_depth: None,
                        min_samples_leaf: 1,
                        min_samples_split: 2,
                        max_features: MaxFeatures::Fraction(0.5),
                        max_bins: 256,
                    },
                    bootstrap: true,
                },
                42,
            )
        })
    });
    group.bench_function("boosting_400_rounds_depth6_3500x14", |b| {
        b.iter(|| {
            fit_boosting(
                &x,
                &y,
                &BoostingParams {
                    n_rounds: 400,
                    learning_rate: 0.05,
                    max_depth: 6,
                    lambda: 1.0,
                    min_child_weight: 1.0,
                    subsample: 0.8,
                    max_bins: 256,
                },
                42,
            )
        })
    });
    group.finish();
}

fn bench_shap(c: &mut Criterion) {
    let (x, y) = regression(4_338, 3);
    let boosting = fit_boosting(
        &x,
        &y,
        &BoostingParams {
            n_rounds: 400,
            learning_rate: 0.05,
            max_depth: 3,
            lambda: 1.0,
            min_child_weight: 1.0,
            subsample: 0.8,
            max_bins: 256,
        },
        42,
    );
    let forest = fit_forest(
        &x,
        &y,
        &ForestParams {
            n_trees: 300,
            tree: TreeParams {
                max_depth: None,
                min_samples_leaf: 5,
                min_samples_split: 2,
                max_features: MaxFeatures::Fraction(0.5),
                max_bins: 256,
            },
            bootstrap: true,
        },
        42,
    );
    let mut group = c.benchmark_group("explain");
    group.sample_size(10);
    group.bench_function("treeshap_boosting_400x_depth3_4338rows", |b| {
        b.iter(|| fluz::explain::ensemble_shap(&boosting.trees, boosting.base_score, 1.0, &x))
    });
    group.bench_function("treeshap_forest_300_leaf5_4338rows", |b| {
        b.iter(|| fluz::explain::ensemble_shap(&forest.trees, 0.0, 1.0 / 300.0, &x))
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_ingest,
    bench_segment,
    bench_learners,
    bench_shap
);
criterion_main!(benches);
