//! The CSV record splitter never panics, and cutting the text into chunks at quote-balanced
//! newlines (how ingest parses in parallel) gives exactly the records of one pass.
#![no_main]

use fluz_fuzz::csv::{chunks, RecordError, RecordReader};
use libfuzzer_sys::fuzz_target;

type Records = Vec<Result<(usize, Vec<String>), RecordError>>;

fn read(text: &str, start: usize, end: usize, line: usize, out: &mut Records) {
    let mut reader = RecordReader::new(text, start, end, line);
    let mut fields = Vec::new();
    while let Some(record) = reader.next_record(&mut fields) {
        out.push(record.map(|line| (line, fields.iter().map(|f| reader.field(f).into_owned()).collect())));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut whole = Records::new();
    read(text, 0, text.len(), 1, &mut whole);
    if whole.iter().any(Result::is_err) {
        return; // a broken quote ends the file's parse; chunking is only used on good input
    }
    for parts in [2, 3, 7] {
        let mut pieces = Records::new();
        for (start, end, line) in chunks(text, 0, 1, parts) {
            read(text, start, end, line, &mut pieces);
        }
        assert_eq!(pieces, whole, "chunked parse differs with {parts} parts");
    }
});
