//! Offer-test logs: one row per customer of a randomized test — the arm the customer was
//! offered, the arm's cashback rate, the outcomes observed afterwards and pre-test features.
//! Read from CSV, CSV.gz or Parquet; every check names the file, the line (or Parquet row) and
//! the column. The log is stored as the tables `offers` (long: one row per customer and
//! outcome) and `offer_features` (long: one row per customer and feature).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use polars::prelude::*;

use super::csv::RecordReader;
use super::retail::decode_text;
use super::Encoding;
use super::{read_input, shown, SourceError};

/// How to read a log (validated settings, built by the command).
#[derive(Clone, Debug)]
pub(crate) struct LogSpec {
    /// `None`: the 1-based data row number is the customer id.
    pub customer_column: Option<String>,
    pub arm_column: String,
    pub control_arm: String,
    /// `None`: rates from `arm_rates` (missing arms: 0).
    pub rate_column: Option<String>,
    pub arm_rates: BTreeMap<String, f64>,
    pub arm_costs: BTreeMap<String, f64>,
    pub outcomes: Vec<String>,
    /// The outcome that is money spent: it must not be negative.
    pub spend_outcome: String,
    /// Feature columns of the log; empty = none read from the log.
    pub features: Vec<String>,
    pub min_arm_rows: usize,
    pub encoding: Encoding,
    pub max_decompressed_bytes: u64,
}

/// One arm of a test.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Arm {
    pub name: String,
    pub rate: f64,
    /// Fixed cost per contact.
    pub cost: f64,
}

/// A validated offer-test log. `arms[0]` is the control; the other arms follow by rate, then
/// name.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct OfferLog {
    pub customer_id: Vec<i64>,
    /// Index into `arms` per customer.
    pub arm: Vec<usize>,
    pub arms: Vec<Arm>,
    /// Margin on spend per customer.
    pub margin: Vec<f64>,
    pub outcomes: Vec<(String, Vec<f64>)>,
    pub features: Vec<(String, Vec<f64>)>,
}

impl OfferLog {
    pub(crate) fn len(&self) -> usize {
        self.customer_id.len()
    }

    /// The row of each customer id.
    pub(crate) fn row_of(&self) -> HashMap<i64, usize> {
        self.customer_id
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i))
            .collect()
    }

    /// Rows per arm.
    pub(crate) fn arm_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.arms.len()];
        for &a in &self.arm {
            counts[a] += 1;
        }
        counts
    }

    /// The `offers` table: customer_id, arm, rate, contact_cost, control, margin, outcome,
    /// value (outcome by outcome, customers in log order).
    pub(crate) fn offers_table(&self) -> PolarsResult<DataFrame> {
        let n = self.len();
        let k = self.outcomes.len();
        let mut customer = Vec::with_capacity(n * k);
        let mut arm = Vec::with_capacity(n * k);
        let mut rate = Vec::with_capacity(n * k);
        let mut cost = Vec::with_capacity(n * k);
        let mut control = Vec::with_capacity(n * k);
        let mut margin = Vec::with_capacity(n * k);
        let mut outcome = Vec::with_capacity(n * k);
        let mut value = Vec::with_capacity(n * k);
        for (name, values) in &self.outcomes {
            for (i, &observed) in values.iter().enumerate() {
                let a = &self.arms[self.arm[i]];
                customer.push(self.customer_id[i]);
                arm.push(a.name.clone());
                rate.push(a.rate);
                cost.push(a.cost);
                control.push(self.arm[i] == 0);
                margin.push(self.margin[i]);
                outcome.push(name.clone());
                value.push(observed);
            }
        }
        DataFrame::new(
            customer.len(),
            vec![
                Column::new("customer_id".into(), customer),
                Column::new("arm".into(), arm),
                Column::new("rate".into(), rate),
                Column::new("contact_cost".into(), cost),
                Column::new("control".into(), control),
                Column::new("margin".into(), margin),
                Column::new("outcome".into(), outcome),
                Column::new("value".into(), value),
            ],
        )
    }

    /// The `offer_features` table: customer_id, feature, value (feature by feature).
    pub(crate) fn features_table(&self) -> PolarsResult<DataFrame> {
        let mut customer = Vec::new();
        let mut feature = Vec::new();
        let mut value = Vec::new();
        for (name, values) in &self.features {
            for (&id, &x) in self.customer_id.iter().zip(values) {
                customer.push(id);
                feature.push(name.clone());
                value.push(x);
            }
        }
        DataFrame::new(
            customer.len(),
            vec![
                Column::new("customer_id".into(), customer),
                Column::new("feature".into(), feature),
                Column::new("value".into(), value),
            ],
        )
    }

    /// Rebuilds a log from its two tables (as [`Self::offers_table`] and
    /// [`Self::features_table`] wrote them).
    pub(crate) fn from_tables(offers: &DataFrame, features: &DataFrame) -> PolarsResult<Self> {
        let ids = offers.column("customer_id")?.i64()?;
        let arm_names = offers.column("arm")?.str()?;
        let rates = offers.column("rate")?.f64()?;
        let costs = offers.column("contact_cost")?.f64()?;
        let control = offers.column("control")?.bool()?;
        let margins = offers.column("margin")?.f64()?;
        let outcome = offers.column("outcome")?.str()?;
        let values = offers.column("value")?.f64()?;
        let mut log = OfferLog::default();
        let mut arms: Vec<Arm> = Vec::new();
        let mut arm_of: HashMap<String, usize> = HashMap::new();
        let mut arm_raw: Vec<usize> = Vec::new();
        let mut index_of: HashMap<i64, usize> = HashMap::new();
        for i in 0..offers.height() {
            let name = outcome.get(i).unwrap_or("");
            if log.outcomes.last().map(|(n, _)| n.as_str()) != Some(name) {
                log.outcomes.push((name.to_string(), Vec::new()));
            }
            let first = log.outcomes.len() == 1;
            log.outcomes
                .last_mut()
                .expect("pushed")
                .1
                .push(values.get(i).unwrap_or(f64::NAN));
            if !first {
                continue;
            }
            let id = ids.get(i).unwrap_or_default();
            index_of.insert(id, log.customer_id.len());
            log.customer_id.push(id);
            log.margin.push(margins.get(i).unwrap_or(0.0));
            let arm_name = arm_names.get(i).unwrap_or("");
            let slot = *arm_of.entry(arm_name.to_string()).or_insert_with(|| {
                arms.push(Arm {
                    name: arm_name.to_string(),
                    rate: rates.get(i).unwrap_or(0.0),
                    cost: costs.get(i).unwrap_or(0.0),
                });
                arms.len() - 1
            });
            arm_raw.push(slot);
        }
        // Order: control first, then by rate, then name.
        let control_slot = (0..offers.height())
            .find(|&i| control.get(i) == Some(true))
            .map(|i| arm_of[arm_names.get(i).unwrap_or("")])
            .unwrap_or(0);
        let mut order: Vec<usize> = (0..arms.len()).collect();
        order.sort_by(|&a, &b| {
            (a != control_slot)
                .cmp(&(b != control_slot))
                .then(arms[a].rate.total_cmp(&arms[b].rate))
                .then(arms[a].name.cmp(&arms[b].name))
        });
        let mut new_index = vec![0; arms.len()];
        for (position, &old) in order.iter().enumerate() {
            new_index[old] = position;
        }
        log.arms = order.iter().map(|&old| arms[old].clone()).collect();
        log.arm = arm_raw.iter().map(|&old| new_index[old]).collect();
        let f_ids = features.column("customer_id")?.i64()?;
        let f_names = features.column("feature")?.str()?;
        let f_values = features.column("value")?.f64()?;
        let n = log.len();
        for i in 0..features.height() {
            let name = f_names.get(i).unwrap_or("");
            if log.features.last().map(|(f, _)| f.as_str()) != Some(name) {
                log.features.push((name.to_string(), vec![f64::NAN; n]));
            }
            if let Some(&row) = f_ids.get(i).and_then(|id| index_of.get(&id)) {
                log.features.last_mut().expect("pushed").1[row] = f_values.get(i).unwrap_or(0.0);
            }
        }
        Ok(log)
    }
}

/// A log's cells as text, column by column, with how to name a data row in messages.
struct RawTable {
    header: Vec<String>,
    columns: Vec<Vec<Option<String>>>,
    /// Per data row: "line 7" (CSV) or "row 6" (Parquet).
    locations: Vec<String>,
}

impl RawTable {
    fn n_rows(&self) -> usize {
        self.locations.len()
    }

    fn column(&self, file: &Path, name: &str, key: &str) -> Result<usize, SourceError> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            let found: Vec<&str> = self.header.iter().take(30).map(String::as_str).collect();
            SourceError::file(
                file,
                format!("missing column {name:?} (named by {key}; the header has {found:?})"),
            )
        })
    }
}

fn read_csv(path: &Path, spec: &LogSpec) -> Result<RawTable, SourceError> {
    let bytes = read_input(path, spec.max_decompressed_bytes)?;
    let text = decode_text(path, bytes, spec.encoding)?;
    let mut reader = RecordReader::new(&text, 0, text.len(), 1);
    let mut fields = Vec::new();
    let fail = |err: super::csv::RecordError| {
        SourceError::at(path, format!("line {}", err.line()), err.why())
    };
    let header: Vec<String> = match reader.next_record(&mut fields) {
        None => return Err(SourceError::file(path, "file has no header row")),
        Some(Err(err)) => return Err(fail(err)),
        Some(Ok(_)) => fields
            .iter()
            .map(|f| reader.field(f).trim().to_string())
            .collect(),
    };
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); header.len()];
    let mut locations = Vec::new();
    while let Some(record) = reader.next_record(&mut fields) {
        let line = record.map_err(fail)?;
        if fields.len() != header.len() {
            return Err(SourceError::at(
                path,
                format!("line {line}"),
                format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        for (column, field) in columns.iter_mut().zip(&fields) {
            let value = reader.field(field);
            let value = value.trim();
            column.push((!value.is_empty()).then(|| value.to_string()));
        }
        locations.push(format!("line {line}"));
    }
    if locations.is_empty() {
        return Err(SourceError::file(
            path,
            "file has a header but no data rows",
        ));
    }
    Ok(RawTable {
        header,
        columns,
        locations,
    })
}

fn read_parquet(path: &Path) -> Result<RawTable, SourceError> {
    let file = std::fs::File::open(path)
        .map_err(|err| SourceError::file(path, format!("cannot read file: {err}")))?;
    let table = ParquetReader::new(file)
        .finish()
        .map_err(|err| SourceError::file(path, format!("not a readable Parquet file: {err}")))?;
    if table.height() == 0 {
        return Err(SourceError::file(path, "file has no data rows"));
    }
    let mut header = Vec::new();
    let mut columns = Vec::new();
    for column in table.columns() {
        header.push(column.name().to_string());
        let text = column.cast(&DataType::String).map_err(|err| {
            SourceError::file(
                path,
                format!("column {:?} cannot be read as text: {err}", column.name()),
            )
        })?;
        let text = text
            .str()
            .map_err(|err| SourceError::file(path, err.to_string()))?;
        columns.push(
            text.iter()
                .map(|v| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from))
                .collect(),
        );
    }
    let locations = (1..=table.height()).map(|r| format!("row {r}")).collect();
    Ok(RawTable {
        header,
        columns,
        locations,
    })
}

fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Reads and checks an offer-test log. Margins are left empty (the command sets them).
pub(crate) fn read_log(path: &Path, spec: &LogSpec) -> Result<OfferLog, SourceError> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let raw = if name.ends_with(".parquet") {
        read_parquet(path)?
    } else {
        read_csv(path, spec)?
    };
    parse_log(path, &raw, spec)
}

fn parse_log(path: &Path, raw: &RawTable, spec: &LogSpec) -> Result<OfferLog, SourceError> {
    let at = |row: usize, column: &str, message: String| {
        SourceError::at(
            path,
            format!("{}, column {column}", raw.locations[row]),
            message,
        )
    };
    let n = raw.n_rows();
    let customer_col = match &spec.customer_column {
        Some(name) => Some(raw.column(path, name, "[offers] customer_column")?),
        None => None,
    };
    let arm_col = raw.column(path, &spec.arm_column, "[offers] arm_column")?;
    let rate_col = match &spec.rate_column {
        Some(name) => Some(raw.column(path, name, "[offers] rate_column")?),
        None => None,
    };
    let outcome_cols: Vec<usize> = spec
        .outcomes
        .iter()
        .map(|o| raw.column(path, o, "[offers] outcomes"))
        .collect::<Result<_, _>>()?;
    let feature_cols: Vec<usize> = spec
        .features
        .iter()
        .map(|f| raw.column(path, f, "[offers] features"))
        .collect::<Result<_, _>>()?;

    // Arms named in the config; when only the control is named, any arm value is accepted.
    let mut known: BTreeSet<&str> = spec.arm_rates.keys().map(String::as_str).collect();
    known.extend(spec.arm_costs.keys().map(String::as_str));
    known.insert(spec.control_arm.as_str());
    let open_arms = known.len() == 1;

    let mut customer_id = Vec::with_capacity(n);
    let mut first_seen: HashMap<i64, usize> = HashMap::with_capacity(n);
    let mut arm_names: Vec<String> = Vec::new();
    let mut arm_rate: Vec<Option<(f64, usize)>> = Vec::new();
    let mut arm_index: HashMap<String, usize> = HashMap::new();
    let mut arm_raw = Vec::with_capacity(n);
    let mut outcomes: Vec<Vec<f64>> = vec![Vec::with_capacity(n); outcome_cols.len()];
    for row in 0..n {
        let id = match customer_col {
            Some(col) => {
                let name = &raw.header[col];
                let Some(text) = raw.columns[col][row].as_deref() else {
                    return Err(at(row, name, "missing customer id".into()));
                };
                let parsed = text.parse::<i64>().ok().or_else(|| {
                    text.parse::<f64>()
                        .ok()
                        .filter(|v| v.fract() == 0.0 && v.abs() < 9.0e15)
                        .map(|v| v as i64)
                });
                parsed.ok_or_else(|| {
                    at(
                        row,
                        name,
                        format!("{} is not a customer id (a whole number)", shown(text)),
                    )
                })?
            }
            None => row as i64 + 1,
        };
        if let Some(&first) = first_seen.get(&id) {
            let column = customer_col.map_or("(row number)", |c| raw.header[c].as_str());
            return Err(at(
                row,
                column,
                format!(
                    "customer {id} appears twice (first on {}): a test log has one row per customer",
                    raw.locations[first]
                ),
            ));
        }
        first_seen.insert(id, row);
        customer_id.push(id);

        let arm_header = &raw.header[arm_col];
        let Some(arm) = raw.columns[arm_col][row].as_deref() else {
            return Err(at(row, arm_header, "missing arm".into()));
        };
        if !open_arms && !known.contains(arm) {
            return Err(at(
                row,
                arm_header,
                format!(
                    "unknown arm value {} (the config names {:?}; set [offers] arm_rates / arm_costs / control_arm)",
                    shown(arm),
                    known
                ),
            ));
        }
        let slot = match arm_index.get(arm) {
            Some(&slot) => slot,
            None => {
                arm_names.push(arm.to_string());
                arm_rate.push(None);
                arm_index.insert(arm.to_string(), arm_names.len() - 1);
                arm_names.len() - 1
            }
        };
        arm_raw.push(slot);
        if let Some(col) = rate_col {
            let name = &raw.header[col];
            let Some(text) = raw.columns[col][row].as_deref() else {
                return Err(at(row, name, "missing rate".into()));
            };
            let rate = parse_number(text)
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    at(
                        row,
                        name,
                        format!("{} is not a rate in [0, 1]", shown(text)),
                    )
                })?;
            match arm_rate[slot] {
                None => arm_rate[slot] = Some((rate, row)),
                Some((first, first_row)) if first != rate => {
                    return Err(at(
                        row,
                        name,
                        format!(
                            "arm {} has rate {rate} here but {first} on {}: one rate per arm",
                            shown(arm),
                            raw.locations[first_row]
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        for ((values, &col), outcome) in outcomes.iter_mut().zip(&outcome_cols).zip(&spec.outcomes)
        {
            let Some(text) = raw.columns[col][row].as_deref() else {
                return Err(at(row, outcome, "missing outcome".into()));
            };
            let value = parse_number(text)
                .ok_or_else(|| at(row, outcome, format!("{} is not a number", shown(text))))?;
            if *outcome == spec.spend_outcome && value < 0.0 {
                return Err(at(
                    row,
                    outcome,
                    format!("negative spend {value}: spend in a test window cannot be below 0"),
                ));
            }
            values.push(value);
        }
    }

    // Arms: control first, then by rate, then name; every arm big enough.
    let Some(&control_slot) = arm_index.get(&spec.control_arm) else {
        return Err(SourceError::file(
            path,
            format!(
                "no control rows: no row has {} in column {} (set [offers] control_arm)",
                shown(&spec.control_arm),
                raw.header[arm_col]
            ),
        ));
    };
    let rate_of = |slot: usize| -> f64 {
        match (rate_col, arm_rate[slot]) {
            (Some(_), Some((rate, _))) => rate,
            _ => spec.arm_rates.get(&arm_names[slot]).copied().unwrap_or(0.0),
        }
    };
    let mut order: Vec<usize> = (0..arm_names.len()).collect();
    order.sort_by(|&a, &b| {
        (a != control_slot)
            .cmp(&(b != control_slot))
            .then(rate_of(a).total_cmp(&rate_of(b)))
            .then(arm_names[a].cmp(&arm_names[b]))
    });
    if order.len() < 2 {
        return Err(SourceError::file(
            path,
            format!(
                "only the control arm {} in column {}: a test needs at least one other arm",
                shown(&spec.control_arm),
                raw.header[arm_col]
            ),
        ));
    }
    let mut new_index = vec![0; order.len()];
    for (position, &old) in order.iter().enumerate() {
        new_index[old] = position;
    }
    let arms: Vec<Arm> = order
        .iter()
        .map(|&slot| Arm {
            name: arm_names[slot].clone(),
            rate: rate_of(slot),
            cost: spec.arm_costs.get(&arm_names[slot]).copied().unwrap_or(0.0),
        })
        .collect();
    let arm: Vec<usize> = arm_raw.iter().map(|&slot| new_index[slot]).collect();
    let mut counts = vec![0usize; arms.len()];
    for &a in &arm {
        counts[a] += 1;
    }
    for (a, &count) in arms.iter().zip(&counts) {
        if count < spec.min_arm_rows {
            return Err(SourceError::file(
                path,
                format!(
                    "arm {} (column {}) has {count} rows, fewer than [offers] min_arm_rows = {}",
                    shown(&a.name),
                    raw.header[arm_col],
                    spec.min_arm_rows
                ),
            ));
        }
    }

    // Features: numbers, or text columns one-hot encoded (one 0/1 column per value, sorted).
    let mut features = Vec::new();
    for (&col, name) in feature_cols.iter().zip(&spec.features) {
        let cells = &raw.columns[col];
        let numeric: Option<Vec<f64>> = cells
            .iter()
            .map(|c| c.as_deref().and_then(parse_number))
            .collect();
        match numeric {
            Some(values) => features.push((name.clone(), values)),
            None => {
                let all_text_or_number = cells.iter().position(Option::is_none);
                if let Some(row) = all_text_or_number {
                    return Err(at(row, name, "missing feature value".into()));
                }
                let levels: BTreeSet<&str> = cells.iter().filter_map(|c| c.as_deref()).collect();
                for level in levels {
                    let values = cells
                        .iter()
                        .map(|c| f64::from(u8::from(c.as_deref() == Some(level))))
                        .collect();
                    features.push((format!("{name}={level}"), values));
                }
            }
        }
    }
    Ok(OfferLog {
        customer_id,
        arm,
        arms,
        margin: vec![f64::NAN; n],
        outcomes: spec.outcomes.iter().cloned().zip(outcomes).collect(),
        features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LogSpec {
        LogSpec {
            customer_column: Some("id".into()),
            arm_column: "arm".into(),
            control_arm: "none".into(),
            rate_column: None,
            arm_rates: [("two".to_string(), 0.02)].into_iter().collect(),
            arm_costs: BTreeMap::new(),
            outcomes: vec!["spend".into()],
            spend_outcome: "spend".into(),
            features: vec!["x".into(), "city".into()],
            min_arm_rows: 1,
            encoding: Encoding::Auto,
            max_decompressed_bytes: 1 << 20,
        }
    }

    fn read(text: &str, spec: &LogSpec) -> Result<OfferLog, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, text).unwrap();
        read_log(&path, spec).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_log_is_read_with_one_hot_text_and_control_first() {
        let log = read(
            "id,arm,spend,x,city\n1,two,3.5,1,b\n2,none,0,2,a\n3,two,1,3,b\n",
            &spec(),
        )
        .unwrap();
        assert_eq!(log.customer_id, vec![1, 2, 3]);
        assert_eq!(log.arms[0].name, "none");
        assert_eq!(log.arms[1].rate, 0.02);
        assert_eq!(log.arm, vec![1, 0, 1]);
        let names: Vec<&str> = log.features.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x", "city=a", "city=b"]);
        assert_eq!(log.features[2].1, vec![1.0, 0.0, 1.0]);
    }

    #[test]
    fn tables_round_trip() {
        let mut log = read(
            "id,arm,spend,x,city\n1,two,3.5,1,b\n2,none,0,2,a\n3,two,1,3,b\n",
            &spec(),
        )
        .unwrap();
        log.margin = vec![0.1, 0.2, 0.3];
        let back =
            OfferLog::from_tables(&log.offers_table().unwrap(), &log.features_table().unwrap())
                .unwrap();
        assert_eq!(back, log);
    }

    #[test]
    fn bad_logs_name_line_and_column() {
        let s = spec();
        let e = read("id,arm,spend,x,city\n1,three,3.5,1,b\n", &s).unwrap_err();
        assert!(
            e.contains("line 2, column arm") && e.contains("unknown arm value \"three\""),
            "{e}"
        );
        let e = read("id,arm,spend,x,city\n1,two,3.5,1,b\n1,none,1,1,b\n", &s).unwrap_err();
        assert!(
            e.contains("line 3, column id") && e.contains("appears twice (first on line 2)"),
            "{e}"
        );
        let e = read("id,arm,spend,x,city\n1,two,-3.5,1,b\n", &s).unwrap_err();
        assert!(
            e.contains("line 2, column spend") && e.contains("negative spend"),
            "{e}"
        );
        let e = read("id,arm,spend,x,city\n1,two,,1,b\n", &s).unwrap_err();
        assert!(e.contains("line 2, column spend: missing outcome"), "{e}");
        let e = read("id,arm,spend,x,city\n1,two,1,1,b\n", &s).unwrap_err();
        assert!(e.contains("no control rows"), "{e}");
        let mut few = spec();
        few.min_arm_rows = 2;
        let e = read(
            "id,arm,spend,x,city\n1,two,1,1,b\n2,none,1,1,b\n3,none,1,1,b\n",
            &few,
        )
        .unwrap_err();
        assert!(
            e.contains("arm \"two\" (column arm) has 1 rows, fewer than [offers] min_arm_rows = 2"),
            "{e}"
        );
    }
}
