//! Linkage of the three datasets and the `customer_features` table (SPEC §4).

pub mod customers;
pub mod describe;
pub mod exact;
pub mod graph;
pub mod linkage;
pub mod pushdown;
pub mod summary;
