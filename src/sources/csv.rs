//! A small, fast RFC 4180 record splitter over text already in memory. It hands out field
//! slices of the input (no copy unless a quoted field holds `""`), tracks line numbers for
//! error messages, and can cut the text into chunks at record boundaries so that chunks are
//! parsed in parallel (a newline is a record boundary when the quotes before it are balanced).

use std::borrow::Cow;

/// Why a record could not be split out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// A quoted field is never closed: it swallows the rest of the input, so the record cannot
    /// be skipped on its own.
    UnclosedQuote { line: usize },
    /// Text between a closing quote and the next comma or line end (the record is skippable).
    TextAfterQuote { line: usize },
}

impl RecordError {
    /// The line the record starts on (1-based).
    pub(crate) fn line(self) -> usize {
        match self {
            RecordError::UnclosedQuote { line } | RecordError::TextAfterQuote { line } => line,
        }
    }

    /// The reason, for messages.
    pub(crate) fn why(self) -> &'static str {
        match self {
            RecordError::UnclosedQuote { .. } => "a quoted field is never closed",
            RecordError::TextAfterQuote { .. } => "unexpected text after a closing quote",
        }
    }

    /// False when the error ends the parse (no later record can be trusted).
    pub(crate) fn skippable(self) -> bool {
        matches!(self, RecordError::TextAfterQuote { .. })
    }
}

/// A field's position in the text.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Field {
    start: usize,
    end: usize,
    /// Quoted and containing a doubled quote: needs unescaping.
    escaped: bool,
    quoted: bool,
}

/// Splits records out of `text[start..end]`.
pub(crate) struct RecordReader<'a> {
    text: &'a str,
    pos: usize,
    end: usize,
    line: usize,
}

impl<'a> RecordReader<'a> {
    /// Reads `text[start..end]`, whose first line is line number `first_line` (1-based).
    pub(crate) fn new(text: &'a str, start: usize, end: usize, first_line: usize) -> Self {
        Self {
            text,
            pos: start,
            end,
            line: first_line,
        }
    }

    /// The next non-blank record's fields and the line it starts on; `Err` for a broken quote.
    pub(crate) fn next_record(
        &mut self,
        fields: &mut Vec<Field>,
    ) -> Option<Result<usize, RecordError>> {
        let bytes = self.text.as_bytes();
        loop {
            if self.pos >= self.end {
                return None;
            }
            fields.clear();
            let record_line = self.line;
            let mut pos = self.pos;
            loop {
                // One field.
                if pos < self.end && bytes[pos] == b'"' {
                    let start = pos + 1;
                    let mut i = start;
                    let mut escaped = false;
                    loop {
                        if i >= self.end {
                            self.pos = self.end;
                            return Some(Err(RecordError::UnclosedQuote { line: record_line }));
                        }
                        match bytes[i] {
                            b'"' if i + 1 < self.end && bytes[i + 1] == b'"' => {
                                escaped = true;
                                i += 2;
                            }
                            b'"' => break,
                            b'\n' => {
                                self.line += 1;
                                i += 1;
                            }
                            _ => i += 1,
                        }
                    }
                    fields.push(Field {
                        start,
                        end: i,
                        escaped,
                        quoted: true,
                    });
                    pos = i + 1;
                    if pos < self.end && bytes[pos] == b'\r' {
                        pos += 1;
                    }
                    if pos < self.end && bytes[pos] != b',' && bytes[pos] != b'\n' {
                        // Skip to the end of the line so the next record starts cleanly.
                        while pos < self.end && bytes[pos] != b'\n' {
                            pos += 1;
                        }
                        self.pos = (pos + 1).min(self.end);
                        self.line += 1;
                        return Some(Err(RecordError::TextAfterQuote { line: record_line }));
                    }
                } else {
                    let start = pos;
                    while pos < self.end && bytes[pos] != b',' && bytes[pos] != b'\n' {
                        pos += 1;
                    }
                    let mut end = pos;
                    if end > start
                        && bytes[end - 1] == b'\r'
                        && (pos >= self.end || bytes[pos] == b'\n')
                    {
                        end -= 1;
                    }
                    fields.push(Field {
                        start,
                        end,
                        escaped: false,
                        quoted: false,
                    });
                }
                if pos >= self.end {
                    self.pos = self.end;
                    break;
                }
                if bytes[pos] == b'\n' {
                    self.pos = pos + 1;
                    self.line += 1;
                    break;
                }
                pos += 1; // the comma
            }
            let blank = fields.len() == 1 && !fields[0].quoted && fields[0].start == fields[0].end;
            if blank {
                continue;
            }
            return Some(Ok(record_line));
        }
    }

    /// The text of a field.
    #[inline]
    pub(crate) fn field(&self, field: &Field) -> Cow<'a, str> {
        let raw = &self.text[field.start..field.end];
        if field.escaped {
            Cow::Owned(raw.replace("\"\"", "\""))
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// The byte position the next record starts at.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The line the reader is on.
    pub(crate) fn line(&self) -> usize {
        self.line
    }
}

/// Cuts `text[start..]` into about `parts` chunks at record boundaries; returns
/// `(byte_start, byte_end, first_line)` for each.
///
/// A boundary is a newline outside a quoted field, found by running the reader's own quote
/// state machine over the bytes (a quote opens a quoted field only at the start of a field; a
/// stray quote inside an unquoted field is a literal). Counting quotes alone is not enough:
/// fuzzing found that a stray quote flips the parity and misplaces every later cut.
pub(crate) fn chunks(
    text: &str,
    start: usize,
    first_line: usize,
    parts: usize,
) -> Vec<(usize, usize, usize)> {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let target = len.saturating_sub(start) / parts.max(1);
    let mut out = Vec::new();
    let mut chunk_start = start;
    let mut line = first_line;
    if parts <= 1 || target == 0 {
        out.push((start, len, line));
        return out;
    }
    let mut next_cut = start + target;
    let mut lines_in_chunk = 0;
    // Scanning state between jumps: `i` is the next byte to look at, `field_start` whether a
    // field starts there. Outside quotes only quotes and newlines matter (a quote opens a
    // quoted field when a field starts there: right after a comma, or where the scan resumed
    // with `field_start`); inside quotes only the next quote does. Both are found with
    // memchr, which skips the bytes between them many at a time.
    let mut i = start;
    let mut field_start = true;
    'outside: while i < len {
        for offset in memchr::memchr2_iter(b'"', b'\n', &bytes[i..]) {
            let at = i + offset;
            if bytes[at] == b'\n' {
                lines_in_chunk += 1;
                if at + 1 >= next_cut && out.len() + 1 < parts && at + 1 < len {
                    out.push((chunk_start, at + 1, line));
                    line += lines_in_chunk;
                    lines_in_chunk = 0;
                    chunk_start = at + 1;
                    next_cut = chunk_start + target;
                }
                continue;
            }
            let opens = if at == i {
                field_start
            } else {
                matches!(bytes[at - 1], b',' | b'\n')
            };
            if !opens {
                continue;
            }
            // Inside a quoted field: find its closing quote (a doubled quote is a literal).
            let mut j = at + 1;
            loop {
                let Some(offset) = memchr::memchr(b'"', &bytes[j..]) else {
                    // Never closed: the rest of the text is one field of the last chunk (the
                    // reader reports it).
                    break 'outside;
                };
                let quote = j + offset;
                lines_in_chunk += memchr::memchr_iter(b'\n', &bytes[j..quote]).count();
                if quote + 1 < len && bytes[quote + 1] == b'"' {
                    j = quote + 2;
                    continue;
                }
                i = quote + 1;
                field_start = false;
                continue 'outside;
            }
        }
        break;
    }
    out.push((chunk_start, len, line));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(usize, Vec<String>)> {
        let mut reader = RecordReader::new(text, 0, text.len(), 1);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while let Some(result) = reader.next_record(&mut fields) {
            let line = result.unwrap();
            out.push((
                line,
                fields
                    .iter()
                    .map(|f| reader.field(f).into_owned())
                    .collect(),
            ));
        }
        out
    }

    /// The records of `text` parsed chunk by chunk, as ingest does in parallel.
    fn chunked_records(text: &str, parts: usize) -> Vec<(usize, Vec<String>)> {
        let mut out = Vec::new();
        for (start, end, line) in chunks(text, 0, 1, parts) {
            let mut reader = RecordReader::new(text, start, end, line);
            let mut fields = Vec::new();
            while let Some(result) = reader.next_record(&mut fields) {
                out.push((
                    result.unwrap(),
                    fields
                        .iter()
                        .map(|f| reader.field(f).into_owned())
                        .collect(),
                ));
            }
        }
        out
    }

    #[test]
    fn plain_and_quoted_fields() {
        let got = records("a,b,c\n1,\"x, y\",3\n4,\"say \"\"hi\"\"\",6\n");
        assert_eq!(got[0].1, ["a", "b", "c"]);
        assert_eq!(got[1].1, ["1", "x, y", "3"]);
        assert_eq!(got[2].1, ["4", "say \"hi\"", "6"]);
        assert_eq!(got[2].0, 3);
    }

    #[test]
    fn crlf_and_missing_final_newline() {
        let got = records("a,b\r\n1,2\r\n3,\"4\"\r\n5,6");
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].1, ["1", "2"]);
        assert_eq!(got[2].1, ["3", "4"]);
        assert_eq!(got[3].1, ["5", "6"]);
    }

    #[test]
    fn newline_inside_quotes_counts_lines() {
        let got = records("a,b\n\"multi\nline\",2\nx,y\n");
        assert_eq!(got[1].1, ["multi\nline", "2"]);
        assert_eq!(got[2].0, 4);
    }

    #[test]
    fn blank_lines_are_skipped() {
        let got = records("a,b\n\n1,2\n\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 3);
    }

    #[test]
    fn unclosed_quote_is_an_error() {
        let text = "a,b\n1,\"open\n";
        let mut reader = RecordReader::new(text, 0, text.len(), 1);
        let mut fields = Vec::new();
        assert!(reader.next_record(&mut fields).unwrap().is_ok());
        let err = reader.next_record(&mut fields).unwrap().unwrap_err();
        assert_eq!(err, RecordError::UnclosedQuote { line: 2 });
    }

    #[test]
    fn stray_quote_in_an_unquoted_field_does_not_misplace_chunks() {
        // Found by fuzz/csv_records: a quote inside an unquoted field is a literal, so it
        // must not flip the "inside quotes" state that chunk cutting relies on.
        let mut text = String::from("$\"\n\"\n,z\"\n");
        for i in 0..200 {
            text.push_str(&format!("{i},\"a\nb\",c\"d\n"));
        }
        let whole = records(&text);
        for parts in [2, 3, 7] {
            let pieces = chunked_records(&text, parts);
            assert_eq!(pieces, whole, "{parts} parts");
        }
    }

    #[test]
    fn chunks_match_one_pass_on_random_text() {
        // The fuzz target's property on many small random texts made of the bytes that matter.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = ['a', ',', '"', '\n', '\r', 'b'];
        let mut checked = 0;
        for _ in 0..3000 {
            let len = rng.gen_range(0..120);
            let text: String = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            let mut reader = RecordReader::new(&text, 0, text.len(), 1);
            let mut fields = Vec::new();
            let mut whole = Vec::new();
            let mut broken = false;
            while let Some(record) = reader.next_record(&mut fields) {
                match record {
                    Ok(line) => whole.push((
                        line,
                        fields
                            .iter()
                            .map(|f| reader.field(f).into_owned())
                            .collect::<Vec<_>>(),
                    )),
                    Err(_) => broken = true,
                }
            }
            if broken {
                continue;
            }
            checked += 1;
            for parts in [2, 3, 7] {
                assert_eq!(
                    chunked_records(&text, parts),
                    whole,
                    "{text:?}, {parts} parts"
                );
            }
        }
        assert!(checked > 300, "only {checked} texts parsed cleanly");
    }

    #[test]
    fn chunks_respect_quotes_and_lines() {
        let mut text = String::from("h1,h2\n");
        for i in 0..1000 {
            text.push_str(&format!("{i},\"v\n{i}\"\n"));
        }
        let whole = records(&text);
        let pieces = chunked_records(&text, 4);
        assert_eq!(pieces, whole);
    }
}
