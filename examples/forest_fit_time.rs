//! Times random-forest fits on one thread, for comparing tree-growing changes with less noise
//! than criterion's two-thread runs give on a shared machine.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release --example forest_fit_time -- [max_features] [rows]
//! [trees] [fits]` (defaults `0.5 3500 300 9`: the size and parameters of the
//! `learn/forest_300_trees_3500x14` bench, on its generator's data with seed 7). Prints the
//! minimum and median fit time and a checksum over every tree's nodes, so a change meant to
//! keep the trees identical can be checked to do so.

use std::time::Instant;

use fluz::learn::cart::{MaxFeatures, TreeParams};
use fluz::learn::forest::{fit_forest, ForestParams};

#[path = "../benches/support/regression.rs"]
mod regression;
use regression::regression;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |index: usize, default: f64| -> f64 {
        args.get(index).map_or(default, |text| {
            text.parse()
                .unwrap_or_else(|_| panic!("argument {} is not a number: {text}", index + 1))
        })
    };
    let max_features = arg(0, 0.5);
    let n_rows = arg(1, 3500.0) as usize;
    let n_trees = arg(2, 300.0) as usize;
    let fits = (arg(3, 9.0) as usize).max(1);
    let (x, y) = regression(n_rows, 7);
    let params = ForestParams {
        n_trees,
        tree: TreeParams {
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: MaxFeatures::Fraction(max_features),
            max_bins: 256,
        },
        bootstrap: true,
    };
    let mut milliseconds = Vec::with_capacity(fits);
    let mut checksum = 0.0;
    for _ in 0..fits {
        let started = Instant::now();
        let forest = fit_forest(&x, &y, &params, 42);
        milliseconds.push(started.elapsed().as_secs_f64() * 1e3);
        checksum = forest
            .trees
            .iter()
            .flat_map(|tree| &tree.nodes)
            .map(|node| node.value * node.cover + node.threshold)
            .sum::<f64>();
    }
    milliseconds.sort_by(f64::total_cmp);
    println!(
        "{fits} fits: min {:.1} ms, median {:.1} ms, checksum {checksum:.12e}",
        milliseconds[0],
        milliseconds[fits / 2]
    );
}
