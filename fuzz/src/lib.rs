//! The parsers under fuzzing, included by path from the real sources so the fuzz build does
//! not compile polars with sanitizers.

pub mod sources {
    #[path = "../../../src/sources/csv.rs"]
    pub mod csv;
    #[path = "../../../src/sources/dates.rs"]
    pub mod dates;
    #[path = "../../../src/sources/text.rs"]
    pub mod text;
    pub use text::shown;
}
