//! The transform settings of segmentation features (a leaf: the config and the fuzz crate use
//! it without the rest of `segment`).

use serde::{Deserialize, Serialize};

/// How segmentation features are transformed before k-means (`[segment] transform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// `ln(1 + x)` then z-score (the default: tames heavy tails).
    Log1pZscore,
    Zscore,
    /// Raw features, as the seed project did.
    None,
}
