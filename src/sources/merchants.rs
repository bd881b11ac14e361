//! Yelp Open Dataset business file (`yelp_academic_dataset_business.json[.gz]`): one JSON
//! object per line. Keeps the fields the pipeline uses; `categories` stays text.

use std::collections::HashSet;
use std::path::Path;

use polars::prelude::*;
use serde_json::Value;

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

fn text_field(
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(format!("field {key:?} should be text, got {}", kind(other))),
    }
}

fn number_field(object: &serde_json::Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(value) if value.is_finite() => Ok(Some(value)),
            _ => Err(format!("field {key:?} is not a finite number")),
        },
        Some(other) => Err(format!(
            "field {key:?} should be a number, got {}",
            kind(other)
        )),
    }
}

fn integer_field(
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<i64>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("field {key:?} should be a whole number, got {number}")),
        Some(other) => Err(format!(
            "field {key:?} should be a whole number, got {}",
            kind(other)
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required<T>(value: Option<T>, key: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("required field {key:?} is missing or null"))
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
        let value: Value = match serde_json::from_slice(line) {
            Ok(value) => value,
            Err(err) => {
                // serde_json's message ends with its own " at line 1 column N": name the file's
                // line and the column instead.
                let text = err.to_string();
                let why = text
                    .rfind(" at line ")
                    .map_or(text.as_str(), |cut| &text[..cut]);
                bad_rows.handle(
                    options.on_bad_row,
                    SourceError::at(
                        path,
                        format!("line {line_no}, column {}", err.column()),
                        format!("malformed JSON: {why}"),
                    ),
                )?;
                continue;
            }
        };
        let parsed: Result<_, String> = (|| {
            let Value::Object(object) = value else {
                return Err(format!("expected a JSON object, got {}", kind(&value)));
            };
            let business_id = required(text_field(&object, "business_id")?, "business_id")?;
            let name = required(text_field(&object, "name")?, "name")?;
            let stars = required(number_field(&object, "stars")?, "stars")?;
            let review_count = required(integer_field(&object, "review_count")?, "review_count")?;
            Ok((
                business_id,
                name,
                text_field(&object, "address")?,
                text_field(&object, "city")?,
                text_field(&object, "state")?,
                text_field(&object, "postal_code")?,
                number_field(&object, "latitude")?,
                number_field(&object, "longitude")?,
                stars,
                review_count,
                integer_field(&object, "is_open")?,
                text_field(&object, "categories")?,
            ))
        })();
        match parsed {
            Ok(row) => {
                if !seen.insert(row.0.clone()) {
                    duplicates += 1;
                    continue;
                }
                columns.business_id.push(row.0);
                columns.name.push(row.1);
                columns.address.push(row.2);
                columns.city.push(row.3);
                columns.state.push(row.4);
                columns.postal_code.push(row.5);
                columns.latitude.push(row.6);
                columns.longitude.push(row.7);
                columns.stars.push(row.8);
                columns.review_count.push(row.9);
                columns.is_open.push(row.10);
                columns.categories.push(row.11);
            }
            Err(why) => bad_rows.handle(
                options.on_bad_row,
                SourceError::at(path, format!("line {line_no}"), why),
            )?,
        }
    }
    if raw == 0 {
        return Err(SourceError::file(path, "the file holds no JSON lines"));
    }
    if columns.business_id.is_empty() && bad_rows.count > 0 {
        return Err(bad_rows.all_bad(path));
    }
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
    use crate::config::OnBadRow;

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
