//! Yelp Open Dataset business file (`yelp_academic_dataset_business.json[.gz]`): one JSON
//! object per line. Keeps the fields the pipeline uses; `categories` stays text.

use std::collections::HashSet;
use std::path::Path;

use polars::prelude::*;

use super::json_line::{parse_business_line, LineError};
use super::{read_input, BadRows, ReadOptions, SourceError, StepCount};

#[derive(Default)]
struct Columns {
    business_id: Vec<String>,
    name: Vec<String>,
    address: Vec<Option<String>>,
    city: Vec<Option<String>>,
    state: Vec<Option<String>>,
    postal_code: Vec<Option<String>>,
    latitude: Vec<Option<f64>>,
    longitude: Vec<Option<f64>>,
    stars: Vec<f64>,
    review_count: Vec<i64>,
    is_open: Vec<Option<i64>>,
    categories: Vec<Option<String>>,
}

/// Reads the business file into the `merchants` table and its step counts.
pub fn read_merchants(
    path: &Path,
    options: ReadOptions,
) -> Result<(DataFrame, Vec<StepCount>), SourceError> {
    let bytes = read_input(path, options.max_decompressed_bytes)?;
    let mut bad_rows = BadRows::default();
    let mut columns = Columns::default();
    let mut raw = 0usize;
    let mut seen = HashSet::new();
    let mut duplicates = 0usize;
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        raw += 1;
        let parsed = parse_business_line(line).map_err(|err| match err {
            LineError::Json { column, why } => SourceError::at(
                path,
                format!("line {line_no}, column {column}"),
                format!("malformed JSON: {why}"),
            ),
            LineError::Field(why) => SourceError::at(path, format!("line {line_no}"), why),
        });
        match parsed {
            Ok(row) => {
                if !seen.insert(row.business_id.clone()) {
                    duplicates += 1;
                    continue;
                }
                columns.business_id.push(row.business_id);
                columns.name.push(row.name);
                columns.address.push(row.address);
                columns.city.push(row.city);
                columns.state.push(row.state);
                columns.postal_code.push(row.postal_code);
                columns.latitude.push(row.latitude);
                columns.longitude.push(row.longitude);
                columns.stars.push(row.stars);
                columns.review_count.push(row.review_count);
                columns.is_open.push(row.is_open);
                columns.categories.push(row.categories);
            }
            Err(err) => bad_rows.handle(options.on_bad_row, err)?,
        }
    }
    if raw == 0 {
        return Err(SourceError::file(path, "the file holds no JSON lines"));
    }
    bad_rows.refuse_if_all_bad(columns.business_id.len(), path)?;
    let kept = columns.business_id.len();
    let mut steps = vec![StepCount {
        source: "merchants",
        step: "raw",
        rows: raw,
    }];
    if bad_rows.count > 0 {
        steps.push(StepCount {
            source: "merchants",
            step: "skip_bad_rows",
            rows: kept + duplicates,
        });
    }
    steps.push(StepCount {
        source: "merchants",
        step: "drop_duplicate_ids",
        rows: kept,
    });
    let table = DataFrame::new(
        kept,
        vec![
            Column::new("business_id".into(), columns.business_id),
            Column::new("name".into(), columns.name),
            Column::new("address".into(), columns.address),
            Column::new("city".into(), columns.city),
            Column::new("state".into(), columns.state),
            Column::new("postal_code".into(), columns.postal_code),
            Column::new("latitude".into(), columns.latitude),
            Column::new("longitude".into(), columns.longitude),
            Column::new("stars".into(), columns.stars),
            Column::new("review_count".into(), columns.review_count),
            Column::new("is_open".into(), columns.is_open),
            Column::new("categories".into(), columns.categories),
        ],
    )
    .map_err(|err| SourceError::file(path, err.to_string()))?;
    Ok((table, steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::OnBadRow;

    const GOOD: &str = r#"{"business_id":"b1","name":"A & B's","address":"1 St","city":"X","state":"PA","postal_code":"1","latitude":1.5,"longitude":-2.0,"stars":4.5,"review_count":10,"is_open":1,"attributes":null,"categories":"Shopping, Gifts","hours":null}"#;

    fn read(text: &str, policy: OnBadRow) -> Result<(DataFrame, Vec<StepCount>), SourceError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("biz.json");
        std::fs::write(&path, text).unwrap();
        read_merchants(
            &path,
            ReadOptions {
                on_bad_row: policy,
                ..Default::default()
            },
        )
    }

    #[test]
    fn reads_a_yelp_line() {
        let (table, steps) = read(&format!("{GOOD}\n"), OnBadRow::Error).unwrap();
        assert_eq!(table.height(), 1);
        assert_eq!(steps[0].rows, 1);
        assert_eq!(
            table.column("categories").unwrap().str().unwrap().get(0),
            Some("Shopping, Gifts")
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let err = read(
            &format!("{GOOD}\n{{\"business_id\": \"b2\",}}\n"),
            OnBadRow::Error,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2") && err.contains("malformed JSON"),
            "{err}"
        );
        let err = read("[1, 2]\n", OnBadRow::Error).unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("expected a JSON object"),
            "{err}"
        );
        let err = read(
            r#"{"business_id":"b","name":"n","review_count":1}"#,
            OnBadRow::Error,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"stars\""), "{err}");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = read(&deep, OnBadRow::Error).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn skip_and_duplicates() {
        let (table, steps) = read(&format!("{GOOD}\nnot json\n{GOOD}\n"), OnBadRow::Skip).unwrap();
        assert_eq!(table.height(), 1);
        let rows: Vec<(&str, usize)> = steps.iter().map(|s| (s.step, s.rows)).collect();
        assert_eq!(
            rows,
            vec![("raw", 3), ("skip_bad_rows", 2), ("drop_duplicate_ids", 1)]
        );
    }
}
