//! What a person sees: PNG charts, CSV exports, the run manifest and `dashboard.html`.

pub mod budget_chart;
pub mod charts;
pub mod clv_chart;
pub mod csv_export;
pub mod dashboard;
pub mod dashboard_data;
pub mod qini_chart;
pub mod stage_views;

pub use crate::fsutil::{write_atomic, write_atomic_with};
