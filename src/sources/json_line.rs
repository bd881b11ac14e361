//! One line of the Yelp business file (a JSON object) → the fields fluz keeps, or why not.
//!
//! Depends on serde_json only, so the fuzz crate (`fuzz/`) includes this file by path.

use serde_json::{Map, Value};

/// The fields of one business that the `merchants` table keeps.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Business {
    pub business_id: String,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub stars: f64,
    pub review_count: i64,
    pub is_open: Option<i64>,
    pub categories: Option<String>,
}

/// Why a line is not a business.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LineError {
    /// Not JSON: serde_json's reason (without its own position) and the 1-based column.
    Json { column: usize, why: String },
    /// JSON, but not an object with the required fields of the right types.
    Field(String),
}

/// Parses one line (without its line end).
pub(crate) fn parse_business_line(line: &[u8]) -> Result<Business, LineError> {
    let value: Value = serde_json::from_slice(line).map_err(|err| {
        // serde_json's message ends with its own " at line 1 column N": the caller names the
        // file's line, and the column is returned apart.
        let text = err.to_string();
        let why = text
            .rfind(" at line ")
            .map_or(text.as_str(), |cut| &text[..cut])
            .to_string();
        LineError::Json {
            column: err.column(),
            why,
        }
    })?;
    business(value).map_err(LineError::Field)
}

fn business(value: Value) -> Result<Business, String> {
    let Value::Object(object) = value else {
        return Err(format!("expected a JSON object, got {}", kind(&value)));
    };
    Ok(Business {
        business_id: required(text_field(&object, "business_id")?, "business_id")?,
        name: required(text_field(&object, "name")?, "name")?,
        stars: required(number_field(&object, "stars")?, "stars")?,
        review_count: required(integer_field(&object, "review_count")?, "review_count")?,
        address: text_field(&object, "address")?,
        city: text_field(&object, "city")?,
        state: text_field(&object, "state")?,
        postal_code: text_field(&object, "postal_code")?,
        latitude: number_field(&object, "latitude")?,
        longitude: number_field(&object, "longitude")?,
        is_open: integer_field(&object, "is_open")?,
        categories: text_field(&object, "categories")?,
    })
}

fn text_field(object: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(format!("field {key:?} should be text, got {}", kind(other))),
    }
}

fn number_field(object: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
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

fn integer_field(object: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
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
