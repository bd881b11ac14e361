//! Linkage of the three datasets and the `customer_features` table (SPEC §4).

pub mod customers;
pub(crate) mod describe;
pub(crate) mod exact;
pub(crate) mod graph;
pub(crate) mod linkage;
pub(crate) mod pushdown;
pub(crate) mod summary;
