//! Regression learners over one shared tree representation: CART trees, random forests,
//! XGBoost-style gradient boosting, and ordinary least squares.
//!
//! These modules know nothing of the store, the config file or the CLI: they take a
//! [`matrix::Matrix`] of finite features, a target slice and plain, validated parameters.

pub mod boosting;
pub mod cart;
pub mod forest;
pub(crate) mod linear;
pub mod matrix;
pub(crate) mod max_features;
pub(crate) mod tree;
