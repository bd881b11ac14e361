//! Hostile inputs: the corpus in `tests/fixtures/hostile/` (written by
//! `scripts/make_fixtures.py`) plus a few big inputs made here at run time so that the repository
//! stays small (a 10 MB single line, a 1 MB JSON string). Each case ingests the bundled sample
//! first, then feeds the real `fluz ingest` one hostile file and asserts the exact outcome: exit
//! code 2 with a message naming the file, the line (or sheet row) and the column, and the
//! warehouse byte-for-byte unchanged; or success where the input is legitimately fine. Row-level
//! problems are run again with `--skip-bad-rows`, and the ingest report must count the skipped
//! row; file-level problems must still be refused with `--skip-bad-rows`.

mod common;

use std::path::{Path, PathBuf};

use common::Workdir;

/// The header of every retail fixture.
const HEADER: &str =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
const GOOD_1: &str =
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom";
const GOOD_3: &str =
    "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom";

/// The retail steps of a three-line file where line 3 was skipped and the two others are kept.
const ONE_OF_THREE_SKIPPED: [(&str, usize); 7] = [
    ("raw", 3),
    ("skip_bad_rows", 2),
    ("drop_missing_customer", 2),
    ("drop_cancelled", 2),
    ("drop_nonpositive_quantity", 2),
    ("drop_nonpositive_price", 2),
    ("drop_duplicates", 2),
];

fn fixture(name: &str) -> PathBuf {
    common::repo().join("tests/fixtures/hostile").join(name)
}

/// The path as the binary prints it (it echoes the path it was given).
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// `(source, step, rows)` rows of the table `fluz ingest` prints.
fn report(stdout: &str) -> Vec<(String, String, usize)> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (source, step, rows) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || !["retail", "social", "merchants"].contains(&source) {
                return None;
            }
            Some((source.to_string(), step.to_string(), rows.parse().ok()?))
        })
        .collect()
}

/// The steps of one source, in report order.
fn steps(stdout: &str, source: &str) -> Vec<(String, usize)> {
    report(stdout)
        .into_iter()
        .filter(|(s, _, _)| s == source)
        .map(|(_, step, rows)| (step, rows))
        .collect()
}

fn owned(expected: &[(&str, usize)]) -> Vec<(String, usize)> {
    expected
        .iter()
        .map(|(step, rows)| (step.to_string(), *rows))
        .collect()
}

/// A work folder whose warehouse holds a good ingest of the bundled sample, and its snapshot.
struct Ingested {
    work: Workdir,
    before: Vec<(String, Vec<u8>)>,
}

impl Ingested {
    fn new() -> Self {
        let work = Workdir::new();
        work.ok(&["ingest"]);
        let before = work.snapshot("warehouse");
        assert!(
            before
                .iter()
                .any(|(name, _)| name == "transactions.parquet"),
            "the sample ingest wrote no transactions.parquet: {:?}",
            before.iter().map(|(name, _)| name).collect::<Vec<_>>()
        );
        Self { work, before }
    }

    /// Rewrites the config (sample paths plus `extra`, which lands inside `[data]` unless it
    /// opens another table) for the runs that follow.
    fn config(self, extra: &str) -> Self {
        self.work.write_config(extra);
        self
    }

    fn args<'a>(flag: &'a str, path: &'a str, skip: bool) -> Vec<&'a str> {
        let mut args = vec!["ingest", flag, path];
        if skip {
            args.push("--skip-bad-rows");
        }
        args
    }

    /// `fluz ingest <flag> <path>` must exit with code 2, print exactly `error: <message>`, and
    /// leave every parquet file of the warehouse as it was.
    fn refuses(&self, flag: &str, path: &Path, skip: bool, message: &str) {
        let path = shown(path);
        let args = Self::args(flag, &path, skip);
        let stderr = self.work.fails(&args, 2);
        assert_eq!(stderr, format!("error: {message}\n"), "fluz {args:?}");
        self.assert_unchanged(&args);
    }

    /// `fluz ingest --retail <path>` must exit with code 2 with a message that starts with
    /// `error: <prefix>` and stays short (a 10 MB value is not echoed back), and leave the
    /// warehouse as it was.
    fn refuses_briefly(&self, path: &Path, prefix: &str) {
        let args = Self::args("--retail", path.to_str().unwrap(), false);
        let stderr = self.work.fails(&args, 2);
        assert!(
            stderr.starts_with(&format!("error: {prefix}")),
            "{}",
            &stderr[..stderr.len().min(500)]
        );
        assert!(
            stderr.len() < 2_000,
            "the error message is {} bytes long",
            stderr.len()
        );
        self.assert_unchanged(&args);
    }

    fn assert_unchanged(&self, args: &[&str]) {
        assert!(
            self.work.snapshot("warehouse") == self.before,
            "the store changed after the refused `fluz {args:?}`"
        );
    }

    /// `fluz ingest <flag> <path>` must succeed; returns its stdout and stderr.
    fn reads(&self, flag: &str, path: &Path, skip: bool) -> (String, String) {
        let path = shown(path);
        let args = Self::args(flag, &path, skip);
        let output = self.work.run(&args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "fluz {args:?} failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
        (stdout, stderr)
    }

    /// With `--skip-bad-rows` the retail file is read, the report counts one skipped row of
    /// three, and the warning quotes the first bad row's error.
    fn skips_one_retail_row(&self, path: &Path, first_error: &str) {
        let (stdout, stderr) = self.reads("--retail", path, true);
        assert_eq!(
            steps(&stdout, "retail"),
            owned(&ONE_OF_THREE_SKIPPED),
            "{stdout}"
        );
        assert!(
            stderr.contains(&format!(
                "skipped 1 bad retail rows; the first: {first_error}"
            )),
            "{stderr}"
        );
    }

    /// The bytes of one warehouse table.
    fn table(&self, name: &str) -> Vec<u8> {
        std::fs::read(
            self.work
                .path()
                .join("warehouse")
                .join(format!("{name}.parquet")),
        )
        .unwrap_or_else(|err| panic!("{name}.parquet: {err}"))
    }
}

/// A retail fixture with one bad row on line 3: refused naming it, then skipped and counted.
fn bad_retail_row(name: &str, location_and_why: &str) {
    let case = Ingested::new();
    let path = fixture(name);
    let message = format!("{}: {location_and_why}", shown(&path));
    case.refuses("--retail", &path, false, &message);
    case.skips_one_retail_row(&path, &message);
}

/// A file-level problem: refused, and still refused with `--skip-bad-rows`.
fn bad_file(case: &Ingested, flag: &str, path: &Path, why: &str) {
    let message = format!("{}: {why}", shown(path));
    case.refuses(flag, path, false, &message);
    case.refuses(flag, path, true, &message);
}

// ---- retail header

#[test]
fn retail_wrong_header_column_is_named() {
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_wrong_header.csv"),
        r#"line 1 (header): missing column Quantity (the header has ["InvoiceNo", "StockCode", "Description", "Quantty", "InvoiceDate", "UnitPrice", "CustomerID", "Country"])"#,
    );
}

#[test]
fn retail_missing_header_column_is_named() {
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_missing_column.csv"),
        r#"line 1 (header): missing column Country (the header has ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"])"#,
    );
}

#[test]
fn retail_duplicated_header_column_is_named() {
    // "Price" is the Online Retail II name of UnitPrice.
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_duplicate_column.csv"),
        "line 1 (header): column UnitPrice appears twice in the header (columns 6 and 9)",
    );
}

// ---- retail numbers

#[test]
fn retail_price_1e400_is_out_of_range() {
    bad_retail_row(
        "retail_price_1e400.csv",
        r#"line 3, column UnitPrice: "1e400" is out of range (not a finite number)"#,
    );
}

#[test]
fn retail_price_nan_is_not_a_number() {
    bad_retail_row(
        "retail_price_nan.csv",
        r#"line 3, column UnitPrice: cannot parse "NaN" as a number (use '.' for decimals, no thousands separators)"#,
    );
}

#[test]
fn retail_price_decimal_comma_is_not_a_number() {
    bad_retail_row(
        "retail_price_decimal_comma.csv",
        r#"line 3, column UnitPrice: cannot parse "3,39" as a number (use '.' for decimals, no thousands separators)"#,
    );
}

#[test]
fn retail_price_unquoted_decimal_comma_is_one_field_too_many() {
    // Unquoted, `3,39` splits the row: no single column is to blame, so the count is reported.
    bad_retail_row(
        "retail_price_decimal_comma_unquoted.csv",
        "line 3: has 9 fields, the header has 8",
    );
}

#[test]
fn retail_price_negative_zero_is_read_and_dropped_as_nonpositive() {
    let case = Ingested::new();
    let (stdout, _) = case.reads(
        "--retail",
        &fixture("retail_price_negative_zero.csv"),
        false,
    );
    let expected = [
        ("raw", 3),
        ("drop_missing_customer", 3),
        ("drop_cancelled", 3),
        ("drop_nonpositive_quantity", 3),
        ("drop_nonpositive_price", 2),
        ("drop_duplicates", 2),
    ];
    assert_eq!(steps(&stdout, "retail"), owned(&expected), "{stdout}");
}

// ---- retail dates

#[test]
fn retail_date_31_02_2011_is_refused() {
    // Dates are month/day/year (the UCI export), so 31 is the month.
    bad_retail_row(
        "retail_date_31_02_2011.csv",
        r#"line 3, column InvoiceDate: "31/02/2011 8:26": month 31 is not in 1..=12"#,
    );
}

#[test]
fn retail_date_month_13_is_refused() {
    bad_retail_row(
        "retail_date_2011_13_01.csv",
        r#"line 3, column InvoiceDate: "2011-13-01 08:26:00": month 13 is not in 1..=12"#,
    );
}

#[test]
fn retail_empty_date_is_refused() {
    bad_retail_row(
        "retail_date_empty.csv",
        "line 3, column InvoiceDate: empty date",
    );
}

// ---- retail customer id

#[test]
fn retail_customer_id_abc_is_refused() {
    bad_retail_row(
        "retail_customer_abc.csv",
        r#"line 3, column CustomerID: cannot parse "abc" as a customer id (a whole number)"#,
    );
}

/// An unclosed quote refuses the file, with or without `--skip-bad-rows`.
fn unclosed_quote_is_refused(skip: bool) {
    let case = Ingested::new();
    let path = fixture("retail_unclosed_quote.csv");
    case.refuses(
        "--retail",
        &path,
        skip,
        &format!("{}: line 3: a quoted field is never closed", shown(&path)),
    );
}

#[test]
fn retail_unclosed_quote_is_refused() {
    unclosed_quote_is_refused(false);
}

#[test]
fn retail_unclosed_quote_is_not_skipped_as_one_row() {
    // The quote swallows every following line, so "skip one row" is not possible: the file
    // is refused.
    unclosed_quote_is_refused(true);
}

#[test]
fn retail_all_rows_bad_under_skip_is_refused() {
    // SPEC §3: "either way nothing already in the store is lost". The message wording is a
    // proposal; what matters is exit code 2 and the store unchanged.
    let case = Ingested::new();
    let path = fixture("retail_all_rows_bad.csv");
    case.refuses(
        "--retail",
        &path,
        true,
        &format!(
            "{}: every data row is bad (2 skipped); the first: {}: line 2, column UnitPrice: cannot parse \"oops\" as a number (use '.' for decimals, no thousands separators)",
            shown(&path),
            shown(&path)
        ),
    );
}

// ---- retail size, encodings and line ends

#[test]
fn retail_10mb_single_line_file_is_refused_with_a_short_message() {
    // Made here, not in tests/fixtures, to keep the repository small: 10 MB, no newline at all.
    let case = Ingested::new();
    let path = case.work.path().join("one_line.csv");
    std::fs::write(&path, "x".repeat(10 << 20)).unwrap();
    // The message must not echo the 10 MB header back.
    case.refuses_briefly(
        &path,
        &format!(
            "{}: line 1 (header): missing columns InvoiceNo, ",
            shown(&path)
        ),
    );
}

#[test]
fn retail_10mb_bad_line_between_good_rows_is_refused_and_skipped() {
    // Made here, not in tests/fixtures, to keep the repository small. Over 1 MB, the text is
    // parsed in parallel chunks, so the line number must survive the chunking.
    let case = Ingested::new();
    let path = case.work.path().join("big_line.csv");
    std::fs::write(
        &path,
        format!("{HEADER}\n{GOOD_1}\n{}\n{GOOD_3}\n", "x".repeat(10 << 20)),
    )
    .unwrap();
    let message = format!("{}: line 3: has 1 fields, the header has 8", shown(&path));
    case.refuses("--retail", &path, false, &message);
    case.skips_one_retail_row(&path, &message);
}

#[test]
fn retail_10mb_price_field_is_refused_with_a_short_message() {
    // Made here, not in tests/fixtures, to keep the repository small.
    let case = Ingested::new();
    let path = case.work.path().join("big_price.csv");
    let row = format!(
        "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,{}x,17850,United Kingdom",
        "9".repeat(10 << 20)
    );
    std::fs::write(&path, format!("{HEADER}\n{GOOD_1}\n{row}\n{GOOD_3}\n")).unwrap();
    case.refuses_briefly(
        &path,
        &format!(
            "{}: line 3, column UnitPrice: cannot parse \"999",
            shown(&path)
        ),
    );
}

#[test]
fn retail_10mb_description_is_read() {
    // Made here, not in tests/fixtures: one legitimate 10 MB field (quoted, with commas).
    let case = Ingested::new();
    let path = case.work.path().join("big_field.csv");
    let description = "LONG, LONG ".repeat(1 << 20);
    let row = format!("536365,71053,\"{description}\",6,12/1/2010 8:26,3.39,17850,United Kingdom");
    std::fs::write(&path, format!("{HEADER}\n{GOOD_1}\n{row}\n{GOOD_3}\n")).unwrap();
    let (stdout, _) = case.reads("--retail", &path, false);
    assert_eq!(
        steps(&stdout, "retail")[0],
        ("raw".to_string(), 3),
        "{stdout}"
    );
    assert_eq!(
        steps(&stdout, "retail").last(),
        Some(&("drop_duplicates".to_string(), 3)),
        "{stdout}"
    );
}

/// Ingests `name` and returns `transactions.parquet`.
fn transactions_of(case: &Ingested, name: &str) -> Vec<u8> {
    case.reads("--retail", &fixture(name), false);
    case.table("transactions")
}

#[test]
fn retail_utf8_bom_is_ignored() {
    let case = Ingested::new();
    let plain = transactions_of(&case, "retail_good.csv");
    assert!(
        transactions_of(&case, "retail_bom.csv") == plain,
        "a BOM changed the transactions table"
    );
}

#[test]
fn retail_crlf_line_ends_are_read() {
    let case = Ingested::new();
    let plain = transactions_of(&case, "retail_good.csv");
    assert!(
        transactions_of(&case, "retail_crlf.csv") == plain,
        "CRLF line ends changed the transactions table"
    );
}

#[test]
fn retail_latin1_is_decoded_under_auto() {
    // The Latin-1 file holds the UTF-8 file's rows, with É and È as single bytes.
    let case = Ingested::new();
    let plain = transactions_of(&case, "retail_good.csv");
    assert!(
        transactions_of(&case, "retail_latin1.csv") == plain,
        "ISO-8859-1 text was not decoded to the same table under encoding = \"auto\""
    );
}

#[test]
fn retail_latin1_is_refused_under_utf8() {
    let case = Ingested::new().config("[ingest]\nencoding = \"utf8\"\n");
    let path = fixture("retail_latin1.csv");
    // The encoding is a property of the whole file, so skipping rows does not apply.
    bad_file(
        &case,
        "--retail",
        &path,
        "line 3: invalid UTF-8 (set [ingest] encoding = \"latin1\" or \"auto\" for ISO-8859-1 files)",
    );
}

#[test]
fn retail_empty_file_is_refused() {
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_empty.csv"),
        "file is empty",
    );
}

#[test]
fn retail_header_only_file_is_refused() {
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_header_only.csv"),
        "the file has a header but no data rows",
    );
}

// ---- gzip

#[test]
fn retail_gzip_cut_in_half_is_refused() {
    // 99,434 bytes is all that the first half of the stream holds (Python's zlib agrees).
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_truncated.csv.gz"),
        "truncated or corrupt gzip data after 99434 decompressed bytes: incomplete deflate stream",
    );
}

#[test]
fn retail_gzip_bomb_stops_at_the_limit() {
    // 8 KB on disk, 8 MB inflated; the limit is 1 MB.
    let case = Ingested::new().config("[ingest]\nmax_decompressed_bytes = 1000000\n");
    bad_file(
        &case,
        "--retail",
        &fixture("retail_bomb.csv.gz"),
        "gzip data expands to more than 1000000 bytes (the limit [ingest] max_decompressed_bytes); refusing to decompress further",
    );
}

// ---- xlsx

#[test]
fn retail_xlsx_control_case_matches_its_csv_twin() {
    // Proves the hand-written workbooks of make_fixtures.py are readable, so that the failures
    // below are about what they are meant to test.
    let case = Ingested::new();
    let csv = transactions_of(&case, "retail_good_xlsx_twin.csv");
    assert!(
        transactions_of(&case, "retail_good.xlsx") == csv,
        "the xlsx and its CSV twin gave different tables"
    );
}

#[test]
fn retail_xlsx_bad_cell_names_sheet_row_and_column() {
    bad_retail_row(
        "retail_bad_cell.xlsx",
        r#"sheet "Online Retail" row 3, column CustomerID: cannot parse "abc" as a customer id (a whole number)"#,
    );
}

#[test]
fn retail_xlsx_configured_sheet_missing_is_refused() {
    let case = Ingested::new().config("retail_sheet = \"Sheet1\"\n");
    bad_file(
        &case,
        "--retail",
        &fixture("retail_good.xlsx"),
        r#"sheet "Sheet1" not found ([data] retail_sheet); the workbook has ["Online Retail"]"#,
    );
}

#[test]
fn retail_xlsx_sheet_part_missing_is_refused() {
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_sheet_part_missing.xlsx"),
        r#"cannot read sheet "Online Retail": Worksheet 'Online Retail' not found"#,
    );
}

#[test]
fn retail_xlsx_that_is_a_zip_of_something_else_is_refused() {
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_zip_of_text.xlsx"),
        "not a readable xlsx workbook: File not found '_rels/.rels'",
    );
}

#[test]
fn retail_xlsx_that_is_not_a_zip_is_refused() {
    bad_file(
        &Ingested::new(),
        "--retail",
        &fixture("retail_csv_named.xlsx"),
        "not a readable xlsx workbook: Zip error: invalid Zip archive: Could not find EOCD",
    );
}

// ---- social edge list

#[test]
fn social_non_numeric_id_names_line_and_column() {
    let case = Ingested::new();
    let path = fixture("social_non_numeric.txt");
    let message = format!(
        r#"{}: line 3, column 1: "x" is not a node id (a non-negative whole number)"#,
        shown(&path)
    );
    case.refuses("--social", &path, false, &message);
    let (stdout, _) = case.reads("--social", &path, true);
    let expected = [
        ("raw", 4),
        ("skip_bad_rows", 3),
        ("drop_self_loops", 3),
        ("drop_duplicate_edges", 3),
    ];
    assert_eq!(steps(&stdout, "social"), owned(&expected), "{stdout}");
}

#[test]
fn social_one_column_names_line_and_column() {
    let case = Ingested::new();
    let path = fixture("social_one_column.txt");
    let message = format!(
        "{}: line 3, column 2: missing: expected two node ids per line",
        shown(&path)
    );
    case.refuses("--social", &path, false, &message);
    let (stdout, _) = case.reads("--social", &path, true);
    let expected = [
        ("raw", 4),
        ("skip_bad_rows", 3),
        ("drop_self_loops", 3),
        ("drop_duplicate_edges", 3),
    ];
    assert_eq!(steps(&stdout, "social"), owned(&expected), "{stdout}");
}

// ---- merchants JSON lines

/// A merchants fixture with one bad line (line 2 of 3) is refused naming it.
fn bad_merchant_line(name: &str, location_and_why: &str) {
    let case = Ingested::new();
    let path = fixture(name);
    case.refuses(
        "--merchants",
        &path,
        false,
        &format!("{}: {location_and_why}", shown(&path)),
    );
}

/// With `--skip-bad-rows` the bad line of a merchants fixture is skipped and counted.
fn skipped_merchant_line(name: &str) {
    let case = Ingested::new();
    let (stdout, _) = case.reads("--merchants", &fixture(name), true);
    let expected = [("raw", 3), ("skip_bad_rows", 2), ("drop_duplicate_ids", 2)];
    assert_eq!(steps(&stdout, "merchants"), owned(&expected), "{stdout}");
}

#[test]
fn merchants_trailing_comma_names_line_and_column() {
    bad_merchant_line(
        "merchants_trailing_comma.json",
        "line 2, column 73: malformed JSON: trailing comma",
    );
}

#[test]
fn merchants_trailing_comma_is_skipped_and_counted() {
    skipped_merchant_line("merchants_trailing_comma.json");
}

#[test]
fn merchants_non_object_names_the_line() {
    bad_merchant_line(
        "merchants_non_object.json",
        "line 2: expected a JSON object, got an array",
    );
    skipped_merchant_line("merchants_non_object.json");
}

#[test]
fn merchants_deep_nesting_names_line_and_column() {
    // 5,000 nested arrays; serde_json gives up at depth 128, column 212 of line 2.
    bad_merchant_line(
        "merchants_deep_nesting.json",
        "line 2, column 212: malformed JSON: recursion limit exceeded",
    );
}

#[test]
fn merchants_deep_nesting_is_skipped_and_counted() {
    skipped_merchant_line("merchants_deep_nesting.json");
}

#[test]
fn merchants_1mb_string_is_read() {
    // Made here, not in tests/fixtures, to keep the repository small.
    let case = Ingested::new();
    let path = case.work.path().join("big_name.json");
    let line = format!(
        r#"{{"business_id":"hostile-big","name":"{}","stars":4.0,"review_count":1,"categories":"Shopping"}}"#,
        "n".repeat(1 << 20)
    );
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let (stdout, _) = case.reads("--merchants", &path, false);
    assert_eq!(
        steps(&stdout, "merchants"),
        owned(&[("raw", 1), ("drop_duplicate_ids", 1)]),
        "{stdout}"
    );
}
