//! The parsers under fuzzing, included by path from the real sources so the fuzz build does
//! not compile polars with sanitizers. (`dates.rs` calls `super::shown`, hence the re-export;
//! `config.rs` names `crate::learn::cart::MaxFeatures`, `crate::segment::Transform` and
//! `crate::store::{is_identifier, redact_url}`, hence those modules, each a leaf file.)

#[path = "../../src/sources/csv.rs"]
pub mod csv;
#[path = "../../src/sources/dates.rs"]
pub mod dates;
#[path = "../../src/sources/text.rs"]
pub mod text;

pub use text::shown;
#[path = "../../src/sources/json_line.rs"]
pub mod json_line;
#[path = "../../src/config.rs"]
pub mod config;

#[path = "../../src/learn/max_features.rs"]
pub mod max_features;
#[path = "../../src/segment/scaling.rs"]
pub mod scaling;
#[path = "../../src/store/names.rs"]
pub mod names;

pub mod segment {
    pub use crate::scaling::Transform;
}

pub mod store {
    pub use crate::names::{is_identifier, redact_url};
}

pub mod learn {
    pub mod cart {
        pub use crate::max_features::MaxFeatures;
    }
}
