//! Cashback economics (the training target), the hash split and folds, the model families with
//! their grids, cross-validated selection, persistence, and merchant-level rates (SPEC §7).

pub mod economics;
pub mod family;
pub mod merchants;
pub mod policy;
pub mod selection;
pub mod split;
pub mod training;
