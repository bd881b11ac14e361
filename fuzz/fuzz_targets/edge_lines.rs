//! Edge-list lines never panic the parser, and a parsed edge written back as `a b` parses to
//! the same edge.
#![no_main]

use fluz_fuzz::text::{parse_edge_line, EdgeLine};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let EdgeLine::Edge(a, b) = parse_edge_line(line) {
            assert_eq!(parse_edge_line(format!("{a} {b}").as_bytes()), EdgeLine::Edge(a, b));
        }
    }
});
