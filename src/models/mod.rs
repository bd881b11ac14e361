//! Cashback economics (the training target), the hash split and folds, the model families with
//! their grids, cross-validated selection, persistence, and merchant-level rates (SPEC §7).

pub(crate) mod economics;
pub(crate) mod family;
pub(crate) mod merchants;
pub(crate) mod policy;
pub(crate) mod selection;
pub(crate) mod split;
pub(crate) mod tables;
pub(crate) mod training;
