//! The parsers under fuzzing, included by path from the real sources so the fuzz build does
//! not compile polars with sanitizers. (`dates.rs` calls `super::shown`, hence the re-export.)

#[path = "../../src/sources/csv.rs"]
pub mod csv;
#[path = "../../src/sources/dates.rs"]
pub mod dates;
#[path = "../../src/sources/text.rs"]
pub mod text;

pub use text::shown;
