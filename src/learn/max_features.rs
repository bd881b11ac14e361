//! How many features a tree split may look at. Depends on serde only, so the fuzz crate
//! (`fuzz/`) can include it with the config loader.

use serde::{Deserialize, Serialize};

/// How many features a split may look at.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum MaxFeatures {
    /// Every feature at every split.
    All,
    /// `floor(sqrt(n_features))`, at least 1.
    Sqrt,
    /// `floor(fraction · n_features)`, at least 1 and at most all.
    Fraction(f64),
}

impl MaxFeatures {
    /// The number of features to draw per split out of `n_features` (scikit-learn's rounding).
    pub fn count(self, n_features: usize) -> usize {
        let wanted = match self {
            MaxFeatures::All => n_features,
            MaxFeatures::Sqrt => (n_features as f64).sqrt().floor() as usize,
            // `as usize` saturates: a NaN or negative fraction gives 0, then the clamp gives 1.
            MaxFeatures::Fraction(fraction) => (fraction * n_features as f64).floor() as usize,
        };
        wanted.clamp(1, n_features.max(1))
    }
}
