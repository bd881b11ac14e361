//! Inputs of the CLV stage: purchase files (the two whitespace CDNOW layouts, or a CSV with
//! named customer / date / value columns), ready RFM summaries (columns frequency, recency, T
//! and optionally monetary_value; the CDNOW summaries' x, t_x, zbar and ID are recognised too)
//! — errors name the file, line and column — and the store's transactions and customers'
//! commissions, from tables already read.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::{DataFrame, DataType};

use super::rfm::{Purchase, Rfm};
use crate::error::user_error;
use crate::frame::{f64_column, i64_column};
use crate::sources::csv::{Field, RecordReader};
use crate::sources::dates::{civil_from_days, days_from_civil, parse_datetime};
use crate::sources::{read_input, shown, SourceError};

/// The columns of the `transactions` table a purchase needs.
pub(crate) const TRANSACTION_COLUMNS: [&str; 4] =
    ["customer_id", "invoice_date", "quantity", "unit_price"];

/// Each customer's margin: their `merchant_commission` in `features` (customer_features:
/// customer_id, merchant_commission); a customer without a row is an error naming them.
pub(crate) fn commission_margins(
    customer_id: &[i64],
    features: &DataFrame,
) -> anyhow::Result<Vec<f64>> {
    let ids = i64_column(features, "customer_id")?;
    let commission = f64_column(features, "merchant_commission")?;
    let by_id: HashMap<i64, f64> = ids.into_iter().zip(commission).collect();
    customer_id
        .iter()
        .map(|id| {
            by_id.get(id).copied().ok_or_else(|| {
                user_error(format!(
                    "customer {id} has transactions but no row in customer_features (margin = \"commission\" needs it): run `fluz eda` first"
                ))
            })
        })
        .collect()
}

/// The cleaned retail lines (`transactions`) as purchases: one per line, on the line's day,
/// worth quantity × unit price.
pub(crate) fn purchases_from_transactions(table: &DataFrame) -> anyhow::Result<Vec<Purchase>> {
    let customers = table.column("customer_id")?.cast(&DataType::Int64)?;
    let customers = customers.i64()?;
    let quantity = table.column("quantity")?.cast(&DataType::Float64)?;
    let quantity = quantity.f64()?;
    let price = table.column("unit_price")?.cast(&DataType::Float64)?;
    let price = price.f64()?;
    let dates = table.column("invoice_date")?.datetime()?.physical().clone();
    let mut purchases = Vec::with_capacity(table.height());
    for i in 0..table.height() {
        let (Some(customer_id), Some(micros), Some(q), Some(p)) = (
            customers.get(i),
            dates.get(i),
            quantity.get(i),
            price.get(i),
        ) else {
            anyhow::bail!(
                "transactions row {i} has a null customer_id, invoice_date, quantity or unit_price"
            );
        };
        purchases.push(Purchase {
            customer_id,
            day: micros.div_euclid(86_400_000_000),
            value: q * p,
        });
    }
    Ok(purchases)
}

/// The column names of a purchases CSV.
#[derive(Clone, Debug)]
pub(crate) struct PurchaseColumns {
    pub customer: String,
    pub date: String,
    pub value: String,
}

/// A day number from `YYYYMMDD` or any date the retail reader accepts (`YYYY-MM-DD`,
/// `M/D/YYYY`, with or without a time).
pub(crate) fn parse_day(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        let year: i64 = text[..4].parse().map_err(|_| "bad year".to_string())?;
        let month: u32 = text[4..6].parse().map_err(|_| "bad month".to_string())?;
        let day: u32 = text[6..].parse().map_err(|_| "bad day".to_string())?;
        let days = days_from_civil(year, month, day);
        if !(1..=12).contains(&month) || civil_from_days(days) != (year, month, day) {
            return Err(format!("{} is not a valid YYYYMMDD date", shown(text)));
        }
        return Ok(days);
    }
    let micros = parse_datetime(text)?;
    Ok(micros.div_euclid(86_400_000_000))
}

/// A purchase value: ≥ 0 (CDNOW has a few free purchases, which still count as purchases);
/// a negative value is a return, which has no place in a purchase history.
fn purchase_value(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{} is not a number", shown(text)))?;
    if !value.is_finite() {
        return Err(format!("{} is not a finite number", shown(text)));
    }
    if value < 0.0 {
        return Err(format!(
            "purchase value {value} is negative (a return: leave returns out of a purchase history)"
        ));
    }
    Ok(value)
}

fn customer_id(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let t = t.strip_suffix(".0").unwrap_or(t);
    t.parse::<i64>()
        .map_err(|_| format!("{} is not an integer customer id", shown(text)))
}

fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, SourceError> {
    String::from_utf8(bytes).map_err(|err| {
        SourceError::file(
            path,
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                err.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads purchases from a CDNOW file (`customer date cds value` or the sample's
/// `customer sample_id date cds value`; an optional header line) or a CSV with a header that
/// names the three columns. The format is told by the first line: a comma makes it CSV.
pub(crate) fn read_purchases(
    path: &Path,
    columns: &PurchaseColumns,
    max_bytes: u64,
) -> Result<Vec<Purchase>, SourceError> {
    let text = utf8(path, read_input(path, max_bytes)?)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let purchases = if first.contains(',') {
        read_purchases_csv(path, text, columns)?
    } else {
        read_cdnow(path, text)?
    };
    if purchases.is_empty() {
        return Err(SourceError::file(path, "has no purchases"));
    }
    Ok(purchases)
}

fn read_cdnow(path: &Path, text: &str) -> Result<Vec<Purchase>, SourceError> {
    let mut purchases = Vec::new();
    let mut layout: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        // The master file's header: `customer_id date number_of_cds dollar_value`.
        if layout.is_none()
            && fields[0].parse::<i64>().is_err()
            && fields.iter().any(|f| f.contains("date"))
        {
            continue;
        }
        let width = *layout.get_or_insert(fields.len());
        if width != 4 && width != 5 {
            return Err(SourceError::at(
                path,
                format!("line {line_number}"),
                format!(
                    "expected the CDNOW layout `customer date cds value` (4 fields) or `customer sample_id date cds value` (5), got {} fields",
                    fields.len()
                ),
            ));
        }
        if fields.len() != width {
            return Err(SourceError::at(
                path,
                format!("line {line_number}"),
                format!(
                    "expected {width} fields like the first line, got {}",
                    fields.len()
                ),
            ));
        }
        let (date_field, value_field) = if width == 4 { (1, 3) } else { (2, 4) };
        let at = |column: &str| format!("line {line_number}, column {column}");
        let customer =
            customer_id(fields[0]).map_err(|e| SourceError::at(path, at("customer_id"), e))?;
        let day =
            parse_day(fields[date_field]).map_err(|e| SourceError::at(path, at("date"), e))?;
        let value = purchase_value(fields[value_field])
            .map_err(|e| SourceError::at(path, at("dollar_value"), e))?;
        purchases.push(Purchase {
            customer_id: customer,
            day,
            value,
        });
    }
    Ok(purchases)
}

/// A CSV's header and records.
struct Csv<'a> {
    header: Vec<String>,
    reader: RecordReader<'a>,
}

fn open_csv<'a>(path: &Path, text: &'a str) -> Result<Csv<'a>, SourceError> {
    let mut reader = RecordReader::new(text, 0, text.len(), 1);
    let mut fields: Vec<Field> = Vec::new();
    let header = match reader.next_record(&mut fields) {
        None => return Err(SourceError::file(path, "file is empty")),
        Some(Err(err)) => {
            return Err(SourceError::at(
                path,
                format!("line {}", err.line()),
                err.why(),
            ))
        }
        Some(Ok(_)) => fields
            .iter()
            .map(|f| reader.field(f).trim().to_string())
            .collect(),
    };
    Ok(Csv { header, reader })
}

fn column_index(
    path: &Path,
    header: &[String],
    names: &[&str],
    key: &str,
) -> Result<usize, SourceError> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
        .ok_or_else(|| {
            SourceError::at(
                path,
                "line 1",
                format!("missing column {key} (looked for {names:?}; the header has {header:?})"),
            )
        })
}

fn read_purchases_csv(
    path: &Path,
    text: &str,
    columns: &PurchaseColumns,
) -> Result<Vec<Purchase>, SourceError> {
    let Csv { header, mut reader } = open_csv(path, text)?;
    let ci = column_index(
        path,
        &header,
        &[columns.customer.as_str()],
        &columns.customer,
    )?;
    let di = column_index(path, &header, &[columns.date.as_str()], &columns.date)?;
    let vi = column_index(path, &header, &[columns.value.as_str()], &columns.value)?;
    let needed = ci.max(di).max(vi) + 1;
    let mut fields: Vec<Field> = Vec::new();
    let mut purchases = Vec::new();
    while let Some(record) = reader.next_record(&mut fields) {
        let line = record
            .map_err(|err| SourceError::at(path, format!("line {}", err.line()), err.why()))?;
        if fields.len() < needed {
            return Err(SourceError::at(
                path,
                format!("line {line}"),
                format!("has {} fields, the header {}", fields.len(), header.len()),
            ));
        }
        let at = |column: &str| format!("line {line}, column {column}");
        let customer = customer_id(&reader.field(&fields[ci]))
            .map_err(|e| SourceError::at(path, at(&columns.customer), e))?;
        let day = parse_day(&reader.field(&fields[di]))
            .map_err(|e| SourceError::at(path, at(&columns.date), e))?;
        let value = purchase_value(&reader.field(&fields[vi]))
            .map_err(|e| SourceError::at(path, at(&columns.value), e))?;
        purchases.push(Purchase {
            customer_id: customer,
            day,
            value,
        });
    }
    Ok(purchases)
}

/// Reads an RFM summary CSV. Every row is checked: x a whole number ≥ 0, 0 ≤ t_x ≤ T
/// (t_x > T would be a purchase after the calibration end), T > 0, t_x = 0 when x = 0,
/// and a positive monetary_value when x > 0. Without an id column customers are numbered
/// 1, 2, … in file order.
pub(crate) fn read_rfm(path: &Path, max_bytes: u64) -> Result<Rfm, SourceError> {
    let text = utf8(path, read_input(path, max_bytes)?)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let Csv { header, mut reader } = open_csv(path, text)?;
    let fi = column_index(path, &header, &["frequency", "x"], "frequency")?;
    let ri = column_index(path, &header, &["recency", "t_x"], "recency")?;
    let ti = column_index(path, &header, &["T"], "T")?;
    let mi = column_index(path, &header, &["monetary_value", "zbar"], "monetary_value").ok();
    let ii = column_index(path, &header, &["customer_id", "ID", "id"], "customer_id").ok();
    let mut rfm = Rfm::default();
    let mut fields: Vec<Field> = Vec::new();
    while let Some(record) = reader.next_record(&mut fields) {
        let line = record
            .map_err(|err| SourceError::at(path, format!("line {}", err.line()), err.why()))?;
        if fields.len() != header.len() {
            return Err(SourceError::at(
                path,
                format!("line {line}"),
                format!("has {} fields, the header {}", fields.len(), header.len()),
            ));
        }
        let at = |c: usize| format!("line {line}, column {}", header[c]);
        let number = |c: usize| -> Result<f64, SourceError> {
            let text = reader.field(&fields[c]);
            let v: f64 = text.trim().parse().map_err(|_| {
                SourceError::at(path, at(c), format!("{} is not a number", shown(&text)))
            })?;
            if !v.is_finite() {
                return Err(SourceError::at(path, at(c), format!("{v} is not finite")));
            }
            Ok(v)
        };
        let x = number(fi)?;
        let tx = number(ri)?;
        let t = number(ti)?;
        if x < 0.0 || x.fract() != 0.0 {
            return Err(SourceError::at(
                path,
                at(fi),
                format!("frequency {x} is not a whole number ≥ 0"),
            ));
        }
        if t <= 0.0 {
            return Err(SourceError::at(
                path,
                at(ti),
                format!("T {t} must be positive"),
            ));
        }
        if tx < 0.0 {
            return Err(SourceError::at(
                path,
                at(ri),
                format!("recency {tx} is negative"),
            ));
        }
        if tx > t {
            return Err(SourceError::at(
                path,
                at(ri),
                format!("recency {tx} is after T {t}: the last purchase would fall after the calibration end"),
            ));
        }
        if x == 0.0 && tx != 0.0 {
            return Err(SourceError::at(
                path,
                at(ri),
                format!("recency {tx} with frequency 0: a customer with no repeat purchase has recency 0"),
            ));
        }
        if let Some(mi) = mi {
            let m = number(mi)?;
            if m < 0.0 {
                return Err(SourceError::at(
                    path,
                    at(mi),
                    format!("monetary_value {m} is negative"),
                ));
            }
            rfm.monetary_value.push(if x > 0.0 { m } else { 0.0 });
        }
        let id = match ii {
            Some(ii) => customer_id(&reader.field(&fields[ii]))
                .map_err(|e| SourceError::at(path, at(ii), e))?,
            None => rfm.customer_id.len() as i64 + 1,
        };
        rfm.customer_id.push(id);
        rfm.frequency.push(x);
        rfm.recency.push(tx);
        rfm.age.push(t);
    }
    if rfm.is_empty() {
        return Err(SourceError::file(path, "has a header but no customers"));
    }
    let mut sorted = rfm.customer_id.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(SourceError::file(
            path,
            format!("customer id {} appears more than once", w[0]),
        ));
    }
    Ok(rfm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    fn columns() -> PurchaseColumns {
        PurchaseColumns {
            customer: "customer_id".into(),
            date: "date".into(),
            value: "value".into(),
        }
    }

    #[test]
    fn both_cdnow_layouts() {
        let sample =
            write(" 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n");
        let p = read_purchases(sample.path(), &columns(), 1 << 30).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].customer_id, 4);
        assert_eq!(p[1].day - p[0].day, 17);
        assert_eq!(p[1].value, 29.73);
        let master =
            write(" customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n");
        let p = read_purchases(master.path(), &columns(), 1 << 30).unwrap();
        assert_eq!(
            (p[0].customer_id, p[0].day, p[0].value),
            (1, days_from_civil(1997, 1, 1), 11.77)
        );
    }

    #[test]
    fn csv_with_named_columns_and_bad_values() {
        let ok = write("value,customer_id,date\n10.5,7,2011-01-02\n3,7,2011-01-02 10:00\n");
        let p = read_purchases(ok.path(), &columns(), 1 << 30).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].day, p[1].day);
        let zero = write("value,customer_id,date\n0,7,2011-01-02\n");
        let free = read_purchases(zero.path(), &columns(), 1 << 30).unwrap();
        assert_eq!(free[0].value, 0.0);
        let negative = write("value,customer_id,date\n1,7,2011-01-02\n-2.5,7,2011-01-03\n");
        let err = read_purchases(negative.path(), &columns(), 1 << 30)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3, column value") && err.contains("negative"),
            "{err}"
        );
        let missing = write("amount,customer_id,date\n1,7,2011-01-02\n");
        let err = read_purchases(missing.path(), &columns(), 1 << 30)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing column value"), "{err}");
        let bad_date = write(" 1 19971332 1 2.0\n");
        let err = read_purchases(bad_date.path(), &columns(), 1 << 30)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1, column date"), "{err}");
    }

    #[test]
    fn rfm_summary_rows_are_checked() {
        let ok = write("ID,x,t_x,T,zbar\n1,2,30.43,38.86,22.35\n2,0,0.00,38.86,0.00\n");
        let rfm = read_rfm(ok.path(), 1 << 30).unwrap();
        assert_eq!(rfm.customer_id, vec![1, 2]);
        assert_eq!(rfm.monetary_value, vec![22.35, 0.0]);
        let late = write("ID,frequency,recency,T\n1,2,40,38.86\n");
        let err = read_rfm(late.path(), 1 << 30).unwrap_err().to_string();
        assert!(
            err.contains("line 2, column recency") && err.contains("after the calibration end"),
            "{err}"
        );
        let negative = write("ID,frequency,recency,T,monetary_value\n1,2,3,38.86,-4\n");
        let err = read_rfm(negative.path(), 1 << 30).unwrap_err().to_string();
        assert!(
            err.contains("column monetary_value") && err.contains("negative"),
            "{err}"
        );
        let empty = write("ID,frequency,recency,T\n");
        let err = read_rfm(empty.path(), 1 << 30).unwrap_err().to_string();
        assert!(err.contains("no customers"), "{err}");
    }
}
