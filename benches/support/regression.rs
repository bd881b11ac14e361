//! The synthetic regression problem of the learner benchmarks, shared by `benches/kernels.rs`
//! and `examples/forest_fit_time.rs` (each includes this file with `#[path]`).

use fluz::learn::matrix::Matrix;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A regression problem shaped like the customer features: 14 heavy-tailed columns.
pub fn regression(n: usize, seed: u64) -> (Matrix, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let columns: Vec<Vec<f64>> = (0..14)
        .map(|_| (0..n).map(|_| (rng.gen::<f64>() * 3.0).exp()).collect())
        .collect();
    let y = (0..n)
        .map(|i| {
            0.03 + 0.01 * columns[0][i].ln() - 0.005 * columns[3][i].ln() + 0.004 * rng.gen::<f64>()
        })
        .collect();
    (Matrix::from_columns(&columns), y)
}
