//! Date parsing never panics, and a parsed date formats and parses back to itself.
#![no_main]

use fluz_fuzz::dates::{format_micros, parse_datetime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(micros) = parse_datetime(text) {
        let whole_seconds = micros - micros.rem_euclid(1_000_000);
        assert_eq!(parse_datetime(&format_micros(micros)), Ok(whole_seconds), "{text:?}");
    }
});
