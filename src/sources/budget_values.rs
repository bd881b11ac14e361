//! The per (customer, arm) values file of `fluz allocate --values FILE`: a CSV (optionally
//! gzipped) with a header naming at least `customer_id`, `arm`, `cost` and `value`, in any
//! order (other columns are ignored). Numbers are checked here only for being numbers; the
//! allocator refuses NaN, infinities, negative costs and repeated (customer, arm) rows, and
//! the command names the line with [`ValueRows::line`].

use std::collections::HashMap;
use std::path::Path;

use super::csv::RecordReader;
use super::{shown, SourceError};

/// The columns a values file must have.
pub(crate) const COLUMNS: [&str; 4] = ["customer_id", "arm", "cost", "value"];

/// The rows of a values file, in file order.
#[derive(Clone, Debug, Default)]
pub(crate) struct ValueRows {
    pub customer_id: Vec<i64>,
    /// Index into `arm_names`.
    pub arm: Vec<u32>,
    /// Arm names, ordered by rate when every name is a number, else by name.
    pub arm_names: Vec<String>,
    pub cost: Vec<f64>,
    pub value: Vec<f64>,
    /// The 1-based line each row starts on.
    pub line: Vec<u32>,
}

/// Reads and parses a values file.
pub(crate) fn read_values(
    path: &Path,
    max_decompressed_bytes: u64,
) -> Result<ValueRows, SourceError> {
    let bytes = super::read_input(path, max_decompressed_bytes)?;
    let text = std::str::from_utf8(&bytes).map_err(|err| {
        SourceError::file(
            path,
            format!(
                "is not UTF-8 text (bad byte at offset {})",
                err.valid_up_to()
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    parse_values(path, text)
}

fn parse_values(path: &Path, text: &str) -> Result<ValueRows, SourceError> {
    let mut reader = RecordReader::new(text, 0, text.len(), 1);
    let mut fields = Vec::new();
    let record_error = |err: super::csv::RecordError| {
        SourceError::at(path, format!("line {}", err.line()), err.why())
    };
    let header_line = match reader.next_record(&mut fields) {
        None => return Err(SourceError::file(path, "file is empty")),
        Some(Err(err)) => return Err(record_error(err)),
        Some(Ok(line)) => line,
    };
    let header: Vec<String> = fields
        .iter()
        .map(|f| reader.field(f).trim().to_string())
        .collect();
    let mut index = [0usize; 4];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        let mut found = header.iter().enumerate().filter(|(_, h)| *h == name);
        match (found.next(), found.next()) {
            (Some((i, _)), None) => *slot = i,
            (None, _) => {
                return Err(SourceError::at(
                    path,
                    format!("line {header_line}"),
                    format!(
                        "the header has no column {name} (need {}; found {})",
                        COLUMNS.join(", "),
                        header
                            .iter()
                            .map(|h| shown(h))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(SourceError::at(
                    path,
                    format!("line {header_line}"),
                    format!("the header names column {name} twice"),
                ))
            }
        }
    }
    let width = header.len();
    let mut rows = ValueRows::default();
    let mut arms: HashMap<String, u32> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    while let Some(record) = reader.next_record(&mut fields) {
        let line = record.map_err(record_error)?;
        let at = |column: &str| format!("line {line}, column {column}");
        if fields.len() != width {
            return Err(SourceError::at(
                path,
                format!("line {line}"),
                format!("has {} fields, the header has {width}", fields.len()),
            ));
        }
        let customer = reader.field(&fields[index[0]]);
        let customer = customer.trim();
        let customer_id: i64 = customer.parse().map_err(|_| {
            SourceError::at(
                path,
                at("customer_id"),
                format!("{} is not an integer customer id", shown(customer)),
            )
        })?;
        let arm = reader.field(&fields[index[1]]);
        let arm = arm.trim();
        if arm.is_empty() {
            return Err(SourceError::at(path, at("arm"), "the arm is empty"));
        }
        let arm_index = match arms.get(arm) {
            Some(&i) => i,
            None => {
                let i = names.len() as u32;
                arms.insert(arm.to_string(), i);
                names.push(arm.to_string());
                i
            }
        };
        let number = |column: usize, name: &str| -> Result<f64, SourceError> {
            let text = reader.field(&fields[index[column]]);
            let text = text.trim();
            text.parse::<f64>().map_err(|_| {
                SourceError::at(path, at(name), format!("{} is not a number", shown(text)))
            })
        };
        rows.cost.push(number(2, "cost")?);
        rows.value.push(number(3, "value")?);
        rows.customer_id.push(customer_id);
        rows.arm.push(arm_index);
        rows.line.push(line as u32);
    }
    if rows.customer_id.is_empty() {
        return Err(SourceError::file(
            path,
            "has a header but no rows: there is nothing to allocate",
        ));
    }
    // Arms in rate order when they are all numbers (so arm order means something), else by
    // name; either way independent of the row order.
    let (order, arm_names) = sort_arms(&names);
    for arm in &mut rows.arm {
        *arm = order[*arm as usize];
    }
    rows.arm_names = arm_names;
    Ok(rows)
}

/// An arm name read as a rate: `"0.02"` or `"2%"` → 0.02.
pub(crate) fn rate_of(name: &str) -> Option<f64> {
    let name = name.trim();
    let rate = match name.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => name.parse::<f64>().ok(),
    };
    rate.filter(|r| r.is_finite())
}

/// Sorts arm names (by rate when all read as rates, see [`rate_of`]); returns old index → new
/// index and the sorted names.
pub(crate) fn sort_arms(names: &[String]) -> (Vec<u32>, Vec<String>) {
    let rates: Vec<Option<f64>> = names.iter().map(|n| rate_of(n)).collect();
    sort_arms_by(names, &rates)
}

/// Sorts arm names by their rates when every arm has one, else by name.
pub(crate) fn sort_arms_by(names: &[String], rates: &[Option<f64>]) -> (Vec<u32>, Vec<String>) {
    let rates: Option<Vec<f64>> = rates.iter().copied().collect();
    let mut sorted: Vec<usize> = (0..names.len()).collect();
    match rates {
        Some(rates) => {
            sorted.sort_by(|&a, &b| rates[a].total_cmp(&rates[b]).then(names[a].cmp(&names[b])))
        }
        None => sorted.sort_by(|&a, &b| names[a].cmp(&names[b])),
    }
    let mut order = vec![0u32; names.len()];
    for (new, &old) in sorted.iter().enumerate() {
        order[old] = new as u32;
    }
    (order, sorted.iter().map(|&i| names[i].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ValueRows, String> {
        parse_values(Path::new("v.csv"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_columns_in_any_order_and_sorts_arms_by_rate() {
        let rows = parse(
            "value,arm,customer_id,cost,extra\n1.5,0.1,7,2,x\n0.5,0.02,7,1,y\n\n3,0.1,8,2,z\n",
        )
        .unwrap();
        assert_eq!(rows.customer_id, vec![7, 7, 8]);
        assert_eq!(rows.arm_names, vec!["0.02", "0.1"]);
        assert_eq!(rows.arm, vec![1, 0, 1]);
        assert_eq!(rows.cost, vec![2.0, 1.0, 2.0]);
        assert_eq!(rows.value, vec![1.5, 0.5, 3.0]);
        assert_eq!(rows.line, vec![2, 3, 5]);
    }

    #[test]
    fn names_the_line_and_column() {
        assert_eq!(
            parse("customer_id,arm,cost\n1,a,2\n").unwrap_err(),
            "v.csv: line 1: the header has no column value (need customer_id, arm, cost, value; found \"customer_id\", \"arm\", \"cost\")"
        );
        assert_eq!(
            parse("customer_id,arm,cost,value\n1,a,2,x\n").unwrap_err(),
            "v.csv: line 2, column value: \"x\" is not a number"
        );
        assert_eq!(
            parse("customer_id,arm,cost,value\n1.5,a,2,1\n").unwrap_err(),
            "v.csv: line 2, column customer_id: \"1.5\" is not an integer customer id"
        );
        assert_eq!(
            parse("customer_id,arm,cost,value\n1,a,2\n").unwrap_err(),
            "v.csv: line 2: has 3 fields, the header has 4"
        );
        assert!(parse("customer_id,arm,cost,value\n")
            .unwrap_err()
            .contains("no rows"));
        // NaN parses as a number: the allocator refuses it with the line.
        assert!(parse("customer_id,arm,cost,value\n1,a,2,NaN\n").is_ok());
    }
}
