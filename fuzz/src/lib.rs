//! The parsers under fuzzing, included by path from the real sources so the fuzz build does
//! not compile polars with sanitizers. (`dates.rs` calls `super::shown`, hence the re-export;
//! `config.rs` names `crate::learn::cart::MaxFeatures`, hence the `learn` module.)

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

pub mod learn {
    pub mod cart {
        pub use crate::max_features::MaxFeatures;
    }
}
