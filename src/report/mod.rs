//! What a person sees: PNG charts, CSV exports, the run manifest and `dashboard.html`.

pub(crate) mod charts;
pub(crate) mod console;
pub(crate) mod csv_export;
pub mod dashboard;
pub(crate) mod dashboard_data;
pub(crate) mod figure;
pub(crate) mod figures;
pub(crate) mod manifest;
pub(crate) mod overview;
pub(crate) mod pngs;
pub mod stage_views;

pub(crate) use crate::fsutil::{write_atomic, write_atomic_with};
