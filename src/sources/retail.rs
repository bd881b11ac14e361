//! UCI Online Retail lines: header mapping (the classic and the "Online Retail II" names),
//! typed parsing of each row, the cleaning steps of SPEC §3 with their row counts, and the
//! `transactions` table. CSV text is parsed in parallel chunks; xlsx rows (see `xlsx.rs`)
//! go through the same row parser, so both formats give identical tables.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use super::csv::{chunks, RecordReader};
use super::dates::parse_datetime;
use super::{read_input, shown, BadRows, ReadOptions, SourceError, StepCount};
use super::{Encoding, OnBadRow};

/// The eight columns, in table order, with the header names that map to each (compared
/// case-insensitively, ignoring spaces and underscores).
pub(crate) const COLUMNS: [(&str, &[&str]); 8] = [
    ("InvoiceNo", &["invoiceno", "invoice"]),
    ("StockCode", &["stockcode"]),
    ("Description", &["description"]),
    ("Quantity", &["quantity"]),
    ("InvoiceDate", &["invoicedate"]),
    ("UnitPrice", &["unitprice", "price"]),
    ("CustomerID", &["customerid"]),
    ("Country", &["country"]),
];

fn normalise_header(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .filter(|c| *c != ' ' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Finds the position of each of the eight columns in a header row.
pub(crate) fn map_header(
    file: &Path,
    location: &str,
    header: &[Cow<'_, str>],
) -> Result<[usize; 8], SourceError> {
    let mut positions = [usize::MAX; 8];
    for (index, name) in header.iter().enumerate() {
        let normal = normalise_header(name);
        if let Some(slot) = COLUMNS
            .iter()
            .position(|(_, aliases)| aliases.contains(&normal.as_str()))
        {
            if positions[slot] != usize::MAX {
                return Err(SourceError::at(
                    file,
                    location,
                    format!(
                        "column {} appears twice in the header (columns {} and {})",
                        COLUMNS[slot].0,
                        positions[slot] + 1,
                        index + 1
                    ),
                ));
            }
            positions[slot] = index;
        }
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .zip(positions)
        .filter(|(_, pos)| *pos == usize::MAX)
        .map(|((name, _), _)| *name)
        .collect();
    if !missing.is_empty() {
        // Names as found, each cut to 40 characters and at most 20 of them, so that a
        // 10 MB "header" does not make a 10 MB message.
        let mut found: Vec<String> = header
            .iter()
            .take(20)
            .map(|h| match h.char_indices().nth(40) {
                Some((cut, _)) => format!("{}…", &h[..cut]),
                None => h.to_string(),
            })
            .collect();
        if header.len() > 20 {
            found.push(format!("… {} more", header.len() - 20));
        }
        return Err(SourceError::at(
            file,
            location,
            format!(
                "missing column{} {} (the header has {:?})",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                found
            ),
        ));
    }
    Ok(positions)
}

/// Text column stored as one buffer plus end offsets (fast to fill, no per-value allocation).
#[derive(Debug, Default, Clone)]
pub struct TextColumn {
    data: String,
    ends: Vec<usize>,
}

impl TextColumn {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        Self {
            data: String::with_capacity(bytes),
            ends: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, value: &str) {
        self.data.push_str(value);
        self.ends.push(self.data.len());
    }

    /// Value at row `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    #[cfg(test)]
    fn append(&mut self, other: &TextColumn) {
        let base = self.data.len();
        self.data.push_str(&other.data);
        self.ends.extend(other.ends.iter().map(|end| end + base));
    }
}

/// Parsed retail lines, column by column, in file order.
#[derive(Debug, Default, Clone)]
pub struct RetailLines {
    pub invoice_no: TextColumn,
    pub stock_code: TextColumn,
    /// Empty text means a missing description.
    pub description: TextColumn,
    pub quantity: Vec<i64>,
    /// Microseconds since the Unix epoch.
    pub invoice_date: Vec<i64>,
    pub unit_price: Vec<f64>,
    pub customer_id: Vec<Option<i64>>,
    pub country: TextColumn,
}

impl RetailLines {
    fn with_capacity(rows: usize) -> Self {
        Self {
            invoice_no: TextColumn::with_capacity(rows, rows * 7),
            stock_code: TextColumn::with_capacity(rows, rows * 6),
            description: TextColumn::with_capacity(rows, rows * 28),
            quantity: Vec::with_capacity(rows),
            invoice_date: Vec::with_capacity(rows),
            unit_price: Vec::with_capacity(rows),
            customer_id: Vec::with_capacity(rows),
            country: TextColumn::with_capacity(rows, rows * 14),
        }
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.quantity.len()
    }

    /// True when there are no lines.
    pub fn is_empty(&self) -> bool {
        self.quantity.is_empty()
    }

    /// Appends all lines of `other`.
    #[cfg(test)]
    pub(crate) fn append_from(&mut self, other: &RetailLines) {
        self.invoice_no.append(&other.invoice_no);
        self.stock_code.append(&other.stock_code);
        self.description.append(&other.description);
        self.quantity.extend_from_slice(&other.quantity);
        self.invoice_date.extend_from_slice(&other.invoice_date);
        self.unit_price.extend_from_slice(&other.unit_price);
        self.customer_id.extend_from_slice(&other.customer_id);
        self.country.append(&other.country);
    }

    /// Parses one row's eight fields (in [`COLUMNS`] order) and appends it. `date_micros`
    /// replaces the InvoiceDate text when the source already holds a date (an xlsx date cell).
    pub(crate) fn push_row(
        &mut self,
        fields: [&str; 8],
        date_micros: Option<i64>,
    ) -> Result<(), (usize, String)> {
        let invoice_no = fields[0].trim();
        let stock_code = fields[1].trim();
        if invoice_no.is_empty() {
            return Err((0, "empty InvoiceNo".into()));
        }
        if stock_code.is_empty() {
            return Err((1, "empty StockCode".into()));
        }
        let quantity = parse_integer(fields[3]).map_err(|why| (3, why))?;
        let invoice_date = match date_micros {
            Some(micros) => micros,
            None => parse_datetime(fields[4]).map_err(|why| (4, why))?,
        };
        let unit_price = parse_number(fields[5]).map_err(|why| (5, why))?;
        let customer_text = fields[6].trim();
        let customer_id = if customer_text.is_empty() {
            None
        } else {
            Some(parse_customer_id(customer_text).map_err(|why| (6, why))?)
        };
        let country = fields[7].trim();
        if country.is_empty() {
            return Err((7, "empty Country".into()));
        }
        self.invoice_no.push(invoice_no);
        self.stock_code.push(stock_code);
        self.description.push(fields[2]);
        self.quantity.push(quantity);
        self.invoice_date.push(invoice_date);
        self.unit_price.push(unit_price);
        self.customer_id.push(customer_id);
        self.country.push(country);
        Ok(())
    }
}

fn parse_integer(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(value) = trimmed.parse::<i64>() {
        return Ok(value);
    }
    // Spreadsheet exports sometimes write whole numbers as "6.0".
    if let Some(whole) = trimmed.strip_suffix(".0") {
        if let Ok(value) = whole.parse::<i64>() {
            return Ok(value);
        }
    }
    if trimmed.is_empty() {
        Err("empty value, expected a whole number".into())
    } else {
        Err(format!("cannot parse {} as a whole number", shown(trimmed)))
    }
}

fn parse_number(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty value, expected a number".into());
    }
    let looks_numeric = trimmed
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    match trimmed.parse::<f64>() {
        Ok(value) if looks_numeric && value.is_finite() => Ok(value),
        Ok(_) if looks_numeric => Err(format!(
            "{} is out of range (not a finite number)",
            shown(trimmed)
        )),
        _ => Err(format!(
            "cannot parse {} as a number (use '.' for decimals, no thousands separators)",
            shown(trimmed)
        )),
    }
}

fn parse_customer_id(text: &str) -> Result<i64, String> {
    if let Ok(value) = text.parse::<i64>() {
        return Ok(value);
    }
    match text.parse::<f64>() {
        Ok(value)
            if value.is_finite()
                && value.fract() == 0.0
                && value.abs() < 9.0e15
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') =>
        {
            Ok(value as i64)
        }
        _ => Err(format!(
            "cannot parse {} as a customer id (a whole number)",
            shown(text)
        )),
    }
}

/// Decodes CSV bytes as text: UTF-8 (a BOM dropped), or ISO-8859-1 when configured or, under
/// `auto`, when the bytes are not valid UTF-8.
pub(crate) fn decode_text(
    file: &Path,
    bytes: Vec<u8>,
    encoding: Encoding,
) -> Result<String, SourceError> {
    let latin1 = |bytes: &[u8]| bytes.iter().map(|&b| b as char).collect::<String>();
    let mut text = match encoding {
        Encoding::Latin1 => latin1(&bytes),
        Encoding::Utf8 | Encoding::Auto => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) if encoding == Encoding::Auto => latin1(err.as_bytes()),
            Err(err) => {
                let offset = err.utf8_error().valid_up_to();
                let bytes = err.as_bytes();
                let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
                return Err(SourceError::at(
                    file,
                    format!("line {line}"),
                    "invalid UTF-8 (set [ingest] encoding = \"latin1\" or \"auto\" for ISO-8859-1 files)",
                ));
            }
        },
    };
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    Ok(text)
}

/// What reading a retail file gives: the parsed lines and the number of bad rows skipped.
#[derive(Clone, Debug)]
pub struct ParsedRetail {
    /// The lines in file order, in the chunks they were parsed in. They are never
    /// concatenated: at 10M lines that copy alone took a second (and as much memory again);
    /// cleaning runs chunk by chunk and the `transactions` table is built from the chunks.
    pub chunks: Vec<RetailLines>,
    pub bad_rows: BadRows,
}

impl ParsedRetail {
    /// Gathers the chunks parsed in parallel, in order; the first chunk's error wins, so the
    /// error reported is the first in the file.
    pub(crate) fn gather(
        results: Vec<Result<(RetailLines, BadRows), SourceError>>,
    ) -> Result<Self, SourceError> {
        let mut chunks = Vec::with_capacity(results.len());
        let mut bad_rows = BadRows::default();
        for result in results {
            let (lines, chunk_bad_rows) = result?;
            bad_rows.count += chunk_bad_rows.count;
            if bad_rows.first.is_none() {
                bad_rows.first = chunk_bad_rows.first;
            }
            chunks.push(lines);
        }
        Ok(Self { chunks, bad_rows })
    }

    /// Number of parsed lines.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(RetailLines::len).sum()
    }

    /// True when no line was parsed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All lines in one piece (tests read them by row).
    #[cfg(test)]
    pub(crate) fn joined(&self) -> RetailLines {
        let mut lines = RetailLines::default();
        for chunk in &self.chunks {
            lines.append_from(chunk);
        }
        lines
    }
}

/// Reads a retail CSV or CSV.gz file.
pub fn read_csv(
    path: &Path,
    encoding: Encoding,
    options: ReadOptions,
) -> Result<ParsedRetail, SourceError> {
    let started = std::time::Instant::now();
    let bytes = read_input(path, options.max_decompressed_bytes)?;
    tracing::debug!(
        "read {} bytes in {:.3}s",
        bytes.len(),
        started.elapsed().as_secs_f64()
    );
    let text = decode_text(path, bytes, encoding)?;
    tracing::debug!("decoded text in {:.3}s", started.elapsed().as_secs_f64());
    let parsed = parse_csv_text(path, &text, options.on_bad_row);
    tracing::debug!("parsed rows in {:.3}s", started.elapsed().as_secs_f64());
    parsed
}

/// Parses retail CSV text (header first).
pub(crate) fn parse_csv_text(
    path: &Path,
    text: &str,
    on_bad_row: OnBadRow,
) -> Result<ParsedRetail, SourceError> {
    let mut reader = RecordReader::new(text, 0, text.len(), 1);
    let mut fields = Vec::new();
    let header_line = match reader.next_record(&mut fields) {
        None => return Err(SourceError::file(path, "file is empty (no header line)")),
        Some(Err(err)) => {
            return Err(SourceError::at(
                path,
                format!("line {}", err.line()),
                err.why(),
            ))
        }
        Some(Ok(line)) => line,
    };
    let header: Vec<Cow<str>> = fields.iter().map(|f| reader.field(f)).collect();
    let positions = map_header(path, &format!("line {header_line} (header)"), &header)?;
    let n_header = header.len();
    let body_start = reader.pos();
    let parts = rayon::current_num_threads().max(1) * 4;
    let pieces = chunks(
        text,
        body_start,
        reader.line(),
        if text.len() > (1 << 20) { parts } else { 1 },
    );
    let results: Vec<Result<(RetailLines, BadRows), SourceError>> = pieces
        .par_iter()
        .map(|&(start, end, first_line)| {
            parse_chunk(
                path, text, start, end, first_line, &positions, n_header, on_bad_row,
            )
        })
        .collect();
    let parsed = ParsedRetail::gather(results)?;
    parsed.bad_rows.refuse_if_all_bad(parsed.len(), path)?;
    if parsed.is_empty() && parsed.bad_rows.count == 0 {
        return Err(SourceError::file(
            path,
            "the file has a header but no data rows",
        ));
    }
    Ok(parsed)
}

#[allow(clippy::too_many_arguments)]
fn parse_chunk(
    path: &Path,
    text: &str,
    start: usize,
    end: usize,
    first_line: usize,
    positions: &[usize; 8],
    n_header: usize,
    on_bad_row: OnBadRow,
) -> Result<(RetailLines, BadRows), SourceError> {
    let mut reader = RecordReader::new(text, start, end, first_line);
    let mut fields = Vec::with_capacity(n_header);
    let mut lines = RetailLines::with_capacity((end - start) / 80 + 16);
    let mut bad_rows = BadRows::default();
    while let Some(record) = reader.next_record(&mut fields) {
        let line = match record {
            Ok(line) => line,
            Err(record_error) => {
                let err = SourceError::at(
                    path,
                    format!("line {}", record_error.line()),
                    record_error.why(),
                );
                if !record_error.skippable() {
                    return Err(err);
                }
                bad_rows.handle(on_bad_row, err)?;
                continue;
            }
        };
        if fields.len() != n_header {
            bad_rows.handle(
                on_bad_row,
                SourceError::at(
                    path,
                    format!("line {line}"),
                    format!("has {} fields, the header has {n_header}", fields.len()),
                ),
            )?;
            continue;
        }
        let values: [Cow<str>; 8] = std::array::from_fn(|i| reader.field(&fields[positions[i]]));
        let refs: [&str; 8] = std::array::from_fn(|i| values[i].as_ref());
        if let Err((column, why)) = lines.push_row(refs, None) {
            bad_rows.handle(
                on_bad_row,
                SourceError::at(
                    path,
                    format!("line {line}, column {}", COLUMNS[column].0),
                    why,
                ),
            )?;
        }
    }
    Ok((lines, bad_rows))
}

/// Applies the cleaning steps of SPEC §3 in order and returns the `transactions` table with
/// the rows left after each step (`raw` first). Chunks are filtered and turned into columns in
/// parallel; the duplicate check spans all of them. Each chunk is freed as soon as its columns
/// are built, so the parsed lines and the table are not both held whole.
pub fn clean(
    parsed: ParsedRetail,
    dedupe: bool,
) -> Result<(DataFrame, Vec<StepCount>), PolarsError> {
    let chunks = &parsed.chunks;
    let n = parsed.len();
    let mut steps = vec![StepCount {
        source: "retail",
        step: "raw",
        rows: n + parsed.bad_rows.count,
    }];
    if parsed.bad_rows.count > 0 {
        steps.push(StepCount {
            source: "retail",
            step: "skip_bad_rows",
            rows: n,
        });
    }
    // Per chunk, the rows kept and the rows left after each filter step.
    let filtered: Vec<(Vec<u32>, [usize; 4])> = chunks.par_iter().map(filter_lines).collect();
    let filter_steps = [
        "drop_missing_customer",
        "drop_cancelled",
        "drop_nonpositive_quantity",
        "drop_nonpositive_price",
    ];
    for (k, step) in filter_steps.into_iter().enumerate() {
        steps.push(StepCount {
            source: "retail",
            step,
            rows: filtered.iter().map(|(_, left)| left[k]).sum(),
        });
    }
    let mut keeps: Vec<Vec<u32>> = filtered.into_iter().map(|(keep, _)| keep).collect();
    tracing::debug!("filters applied");
    if dedupe {
        keeps = drop_duplicates(chunks, &keeps);
        tracing::debug!("duplicates dropped");
        steps.push(StepCount {
            source: "retail",
            step: "drop_duplicates",
            rows: keeps.iter().map(Vec::len).sum(),
        });
    }
    let tables = parsed
        .chunks
        .into_par_iter()
        .zip(keeps)
        .map(|(lines, keep)| transactions_table(&lines, &keep))
        .collect::<Result<Vec<DataFrame>, PolarsError>>()?;
    let mut tables = tables.into_iter();
    let mut table = match tables.next() {
        Some(first) => first,
        None => transactions_table(&RetailLines::default(), &[])?,
    };
    for next in tables {
        table.vstack_mut_owned(next)?;
    }
    // One chunk per column, as a single pass would have built: the stored file's layout
    // then does not depend on how many threads parsed it. (Text columns are views, so this
    // copies the 16-byte views, not the text.)
    table.rechunk_mut_par();
    Ok((table, steps))
}

/// The filter steps on one chunk: the rows left, and how many were left after each step.
fn filter_lines(lines: &RetailLines) -> (Vec<u32>, [usize; 4]) {
    let mut left = [0; 4];
    let mut keep: Vec<u32> = (0..lines.len() as u32)
        .filter(|&i| lines.customer_id[i as usize].is_some())
        .collect();
    left[0] = keep.len();
    keep.retain(|&i| !lines.invoice_no.get(i as usize).starts_with('C'));
    left[1] = keep.len();
    keep.retain(|&i| lines.quantity[i as usize] > 0);
    left[2] = keep.len();
    keep.retain(|&i| lines.unit_price[i as usize] > 0.0);
    left[3] = keep.len();
    (keep, left)
}

fn row_key(lines: &RetailLines, i: u32) -> (&str, &str, &str, i64, i64, u64, Option<i64>, &str) {
    let i = i as usize;
    (
        lines.invoice_no.get(i),
        lines.stock_code.get(i),
        lines.description.get(i),
        lines.quantity[i],
        lines.invoice_date[i],
        lines.unit_price[i].to_bits(),
        lines.customer_id[i],
        lines.country.get(i),
    )
}

/// A fast, non-cryptographic hasher (the rustc "Fx" mix) for the duplicate check: rows are
/// hashed once and compared in full on a hash match, so collisions only cost a comparison.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            self.write_u64(word);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(tail) ^ rest.len() as u64);
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A final avalanche so the low bits used by the table are well mixed.
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }
}

/// Hashes already-mixed `u64` keys as they are.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn write(&mut self, _bytes: &[u8]) {
        unreachable!("only u64 keys are hashed");
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.0 = word;
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The duplicate check runs in this many independent shards (by hash), in parallel.
const DEDUPE_SHARDS: u64 = 16;

/// Keeps the first of each group of lines equal in every column; `keeps` holds each chunk's
/// candidate rows, and the rows left are returned the same way.
///
/// Rows are hashed in parallel; then each shard of the hash space (bits 28..32 — the hash
/// table itself uses the low bits and the top seven) scans all rows in file order and keeps
/// the first row of each group whose hash falls in it. Equal rows hash alike, so every group
/// lies in one shard and the result is exactly a single pass's.
fn drop_duplicates(chunks: &[RetailLines], keeps: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let hashes: Vec<Vec<u64>> = chunks
        .par_iter()
        .zip(keeps)
        .map(|(lines, keep)| {
            keep.iter()
                .map(|&i| {
                    let mut hasher = FxHasher::default();
                    row_key(lines, i).hash(&mut hasher);
                    hasher.finish()
                })
                .collect()
        })
        .collect();
    let total: usize = keeps.iter().map(Vec::len).sum();
    let shard_of = |hash: u64| (hash >> 28) % DEDUPE_SHARDS;
    // Per shard, the (chunk, position in its keep list) of every later copy.
    let dropped: Vec<Vec<(u32, u32)>> = (0..DEDUPE_SHARDS)
        .into_par_iter()
        .map(|shard| {
            type Table = HashMap<u64, (u32, u32), std::hash::BuildHasherDefault<IdentityHasher>>;
            let mut first_by_hash: Table = HashMap::with_capacity_and_hasher(
                total / DEDUPE_SHARDS as usize * 9 / 8 + 16,
                Default::default(),
            );
            // Rows whose hash matched a different row: rare, kept aside and compared in full.
            let mut collided: Vec<(u64, u32, u32)> = Vec::new();
            let mut dropped = Vec::new();
            for (c, (chunk_hashes, keep)) in hashes.iter().zip(keeps).enumerate() {
                let c = c as u32;
                for (position, (&hash, &i)) in chunk_hashes.iter().zip(keep).enumerate() {
                    if shard_of(hash) != shard {
                        continue;
                    }
                    match first_by_hash.entry(hash) {
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            slot.insert((c, i));
                        }
                        std::collections::hash_map::Entry::Occupied(slot) => {
                            let key = row_key(&chunks[c as usize], i);
                            let (first_chunk, first_row) = *slot.get();
                            let equal = row_key(&chunks[first_chunk as usize], first_row) == key
                                || collided.iter().any(|&(h, cc, j)| {
                                    h == hash && row_key(&chunks[cc as usize], j) == key
                                });
                            if equal {
                                dropped.push((c, position as u32));
                            } else {
                                collided.push((hash, c, i));
                            }
                        }
                    }
                }
            }
            dropped
        })
        .collect();
    let mut is_dropped: Vec<Vec<bool>> = keeps.iter().map(|keep| vec![false; keep.len()]).collect();
    for (c, position) in dropped.into_iter().flatten() {
        is_dropped[c as usize][position as usize] = true;
    }
    keeps
        .iter()
        .zip(&is_dropped)
        .map(|(keep, dropped)| {
            keep.iter()
                .zip(dropped)
                .filter(|(_, &dropped)| !dropped)
                .map(|(&i, _)| i)
                .collect()
        })
        .collect()
}

fn transactions_table(lines: &RetailLines, keep: &[u32]) -> Result<DataFrame, PolarsError> {
    let keep = || keep.iter().map(|&i| i as usize);
    let text = |name: &str, column: &TextColumn| {
        Column::new(
            name.into(),
            keep().map(|i| column.get(i)).collect::<Vec<&str>>(),
        )
    };
    let description: Vec<Option<&str>> = keep()
        .map(|i| {
            let d = lines.description.get(i);
            if d.is_empty() {
                None
            } else {
                Some(d)
            }
        })
        .collect();
    let dates = Int64Chunked::from_vec(
        "invoice_date".into(),
        keep().map(|i| lines.invoice_date[i]).collect(),
    )
    .into_datetime(TimeUnit::Microseconds, None)
    .into_column();
    let columns = vec![
        text("invoice_no", &lines.invoice_no),
        text("stock_code", &lines.stock_code),
        Column::new("description".into(), description),
        Column::new(
            "quantity".into(),
            keep().map(|i| lines.quantity[i]).collect::<Vec<i64>>(),
        ),
        dates,
        Column::new(
            "unit_price".into(),
            keep().map(|i| lines.unit_price[i]).collect::<Vec<f64>>(),
        ),
        Column::new(
            "customer_id".into(),
            keep()
                .map(|i| lines.customer_id[i].unwrap_or_default())
                .collect::<Vec<i64>>(),
        ),
        text("country", &lines.country),
    ];
    DataFrame::new(keep().len(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";

    fn parse(body: &str, policy: OnBadRow) -> Result<ParsedRetail, SourceError> {
        parse_csv_text(Path::new("r.csv"), &format!("{HEADER}{body}"), policy)
    }

    fn error(body: &str) -> String {
        match parse(body, OnBadRow::Error) {
            Ok(_) => panic!("expected an error"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn parses_a_uci_line() {
        let parsed = parse("536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n", OnBadRow::Error).unwrap();
        let lines = &parsed.joined();
        assert_eq!(lines.invoice_no.get(0), "536365");
        assert_eq!(lines.quantity[0], 6);
        assert_eq!(lines.unit_price[0], 2.55);
        assert_eq!(lines.customer_id[0], Some(17850));
    }

    #[test]
    fn customer_id_forms() {
        let parsed = parse(
            "1,A,d,1,12/1/2010 8:26,1,17850.0,UK\n2,A,d,1,12/1/2010 8:26,1,,UK\n",
            OnBadRow::Error,
        )
        .unwrap();
        assert_eq!(parsed.joined().customer_id, vec![Some(17850), None]);
        assert!(error("1,A,d,1,12/1/2010 8:26,1,abc,UK\n").contains("line 2, column CustomerID"));
        assert!(error("1,A,d,1,12/1/2010 8:26,1,17850.5,UK\n").contains("CustomerID"));
    }

    #[test]
    fn online_retail_ii_header() {
        let text = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n489434,85048,LED,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n";
        let parsed = parse_csv_text(Path::new("ii.csv"), text, OnBadRow::Error).unwrap();
        assert_eq!(parsed.joined().customer_id[0], Some(13085));
        assert_eq!(parsed.joined().unit_price[0], 6.95);
    }

    #[test]
    fn reordered_and_extra_columns() {
        let text = "Country,CustomerID,UnitPrice,InvoiceDate,Quantity,Description,StockCode,InvoiceNo,Extra\nUK,1,2.5,12/1/2010 8:26,3,d,S,I1,x\n";
        let parsed = parse_csv_text(Path::new("o.csv"), text, OnBadRow::Error).unwrap();
        assert_eq!(parsed.joined().invoice_no.get(0), "I1");
        assert_eq!(parsed.joined().quantity[0], 3);
    }

    #[test]
    fn missing_and_duplicated_columns() {
        let err = parse_csv_text(
            Path::new("m.csv"),
            "InvoiceNo,StockCode\n1,2\n",
            OnBadRow::Error,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("missing columns") && err.contains("UnitPrice") && err.contains("line 1"),
            "{err}"
        );
        let err = parse_csv_text(
            Path::new("d.csv"),
            &HEADER.replace("Country", "Price"),
            OnBadRow::Error,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("appears twice"), "{err}");
    }

    #[test]
    fn bad_numbers_name_line_and_column() {
        assert!(error("1,A,d,1,12/1/2010 8:26,1e400,1,UK\n").contains("column UnitPrice"));
        assert!(error("1,A,d,1,12/1/2010 8:26,NaN,1,UK\n").contains("column UnitPrice"));
        assert!(error("1,A,d,1,12/1/2010 8:26,\"1,5\",1,UK\n").contains("line 2, column UnitPrice"));
        assert!(error("1,A,d,x,12/1/2010 8:26,1,1,UK\n").contains("column Quantity"));
        let parsed = parse("1,A,d,1,12/1/2010 8:26,-0,1,UK\n", OnBadRow::Error).unwrap();
        assert_eq!(parsed.joined().unit_price[0], 0.0);
    }

    #[test]
    fn bad_dates_name_line_and_column() {
        assert!(error("1,A,d,1,31/02/2011 10:00,1,1,UK\n").contains("line 2, column InvoiceDate"));
        assert!(error("1,A,d,1,2011-13-01 10:00:00,1,1,UK\n").contains("month 13"));
        assert!(error("1,A,d,1,,1,1,UK\n").contains("empty date"));
    }

    #[test]
    fn wrong_field_count_is_reported() {
        assert!(error("1,A,d,1\n").contains("line 2: has 4 fields"));
    }

    #[test]
    fn skip_counts_bad_rows() {
        let parsed = parse("1,A,d,1,12/1/2010 8:26,1,1,UK\n2,A,d,1,12/1/2010 8:26,oops,1,UK\n3,A,d,1,12/1/2010 8:26,1,1,UK\n", OnBadRow::Skip).unwrap();
        assert_eq!(parsed.joined().len(), 2);
        assert_eq!(parsed.bad_rows.count, 1);
        let (_, steps) = clean(parsed.clone(), true).unwrap();
        assert_eq!(steps[0].rows, 3);
        assert_eq!(steps[1].step, "skip_bad_rows");
        assert_eq!(steps[1].rows, 2);
    }

    #[test]
    fn header_only_and_empty() {
        let err = parse_csv_text(Path::new("h.csv"), HEADER, OnBadRow::Error)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no data rows"), "{err}");
        let err = parse_csv_text(Path::new("e.csv"), "", OnBadRow::Error)
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn encodings() {
        let bytes = format!("{HEADER}1,A,caf\u{e9},1,12/1/2010 8:26,1,1,UK\n").into_bytes();
        let mut latin = bytes.clone();
        let pos = latin.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
        latin.splice(pos..pos + 2, [0xe9]);
        let text = decode_text(Path::new("l.csv"), latin.clone(), Encoding::Auto).unwrap();
        assert!(text.contains("caf\u{e9}"));
        let err = decode_text(Path::new("l.csv"), latin, Encoding::Utf8)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("invalid UTF-8"),
            "{err}"
        );
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(&bytes);
        let text = decode_text(Path::new("b.csv"), bom, Encoding::Auto).unwrap();
        assert!(text.starts_with("InvoiceNo"));
    }

    #[test]
    fn cleaning_steps_in_order() {
        let body = "\
1,A,d,1,12/1/2010 8:26,1,,UK
C2,A,d,-1,12/1/2010 8:26,1,5,UK
3,A,d,0,12/1/2010 8:26,1,5,UK
4,A,d,1,12/1/2010 8:26,0,5,UK
5,A,d,1,12/1/2010 8:26,1,5,UK
5,A,d,1,12/1/2010 8:26,1,5,UK
6,A,,1,12/1/2010 8:26,1,5,UK
";
        let parsed = parse(body, OnBadRow::Error).unwrap();
        let (table, steps) = clean(parsed.clone(), true).unwrap();
        let counts: Vec<usize> = steps.iter().map(|s| s.rows).collect();
        assert_eq!(counts, vec![7, 6, 5, 4, 3, 2]);
        assert_eq!(table.height(), 2);
        assert_eq!(table.column("description").unwrap().null_count(), 1);
        let (table, steps) = clean(parsed, false).unwrap();
        assert_eq!(steps.len(), 5);
        assert_eq!(table.height(), 3);
    }

    #[test]
    fn chunks_clean_as_one_piece() {
        // Duplicates within a chunk, across chunks and across hash shards; filtered rows in
        // every chunk. Cleaning the chunks must give exactly the single-piece table and counts.
        // Rows repeat with a period of 210 (so across chunks), and every fifth row is doubled
        // on the spot (so within a chunk, or across a chunk boundary).
        let mut rows = Vec::new();
        for i in 0..400 {
            let customer = if i % 17 == 0 {
                String::new()
            } else {
                (i % 3).to_string()
            };
            let invoice = if i % 29 == 0 {
                format!("C{}", i % 7)
            } else {
                (i % 7).to_string()
            };
            let quantity = if i % 31 == 0 { -1 } else { 1 + i % 2 };
            let row = format!(
                "{invoice},S{},d,{quantity},12/1/2010 8:26,1.5,{customer},UK\n",
                i % 5
            );
            if i % 5 == 0 {
                rows.push(row.clone());
            }
            rows.push(row);
        }
        let whole = parse(&rows.concat(), OnBadRow::Error).unwrap();
        let pieces = ParsedRetail {
            chunks: rows
                .chunks(37)
                .map(|part| parse(&part.concat(), OnBadRow::Error).unwrap().joined())
                .collect(),
            bad_rows: BadRows::default(),
        };
        assert_eq!(pieces.chunks.len(), 13);
        for dedupe in [true, false] {
            let (whole_table, whole_steps) = clean(whole.clone(), dedupe).unwrap();
            let (table, steps) = clean(pieces.clone(), dedupe).unwrap();
            assert!(table.equals_missing(&whole_table), "dedupe = {dedupe}");
            assert_eq!(
                steps.iter().map(|s| s.rows).collect::<Vec<_>>(),
                whole_steps.iter().map(|s| s.rows).collect::<Vec<_>>()
            );
            assert_eq!(table.column("quantity").unwrap().n_chunks(), 1);
        }
        let (table, steps) = clean(pieces, true).unwrap();
        // The number of distinct kept rows, counted independently.
        let mut distinct = std::collections::HashSet::new();
        for row in &rows {
            let fields: Vec<&str> = row.trim_end().split(',').collect();
            if !fields[6].is_empty() && !fields[0].starts_with('C') && !fields[3].starts_with('-') {
                distinct.insert(row.clone());
            }
        }
        assert_eq!(table.height(), distinct.len());
        assert_eq!(steps.last().unwrap().rows, distinct.len());
        // The duplicate check had work to do.
        let before_dedupe = steps[steps.len() - 2].rows;
        assert!(
            distinct.len() < before_dedupe / 2,
            "{} of {before_dedupe}",
            distinct.len()
        );
    }
}
