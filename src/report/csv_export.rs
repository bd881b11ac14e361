//! Tables as CSV for Tableau, Excel and pandas: a header row, `.` decimals (shortest
//! round-trip form), ISO date-times, `true`/`false`, empty cells for nulls, RFC 4180 quoting.
//! Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab
//! or carriage return) get a leading `'`, as OWASP recommends against CSV injection.

use std::io::Write;

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use crate::sources::dates::format_micros;

/// Neutralises a text cell against spreadsheet formula injection.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            std::borrow::Cow::Owned(format!("'{text}"))
        }
        _ => std::borrow::Cow::Borrowed(text),
    }
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    let text = neutralise(text);
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        let _ = write!(out, "{value}");
    } else if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value > 0.0 {
        out.extend_from_slice(b"inf");
    } else {
        out.extend_from_slice(b"-inf");
    }
}

/// Renders a table as CSV bytes.
pub fn to_csv(table: &DataFrame) -> Result<Vec<u8>> {
    let mut table = table.clone();
    table.rechunk_mut();
    let mut out = Vec::with_capacity(table.height() * table.width() * 10 + 256);
    for (j, name) in table.get_column_names().iter().enumerate() {
        if j > 0 {
            out.push(b',');
        }
        write_text(&mut out, name.as_str());
    }
    out.push(b'\n');
    let mut cols = Vec::with_capacity(table.width());
    for column in table.columns() {
        let series = column.as_materialized_series();
        cols.push(match series.dtype() {
            DataType::Int64 => Col::I64(series.i64()?),
            DataType::Float64 => Col::F64(series.f64()?),
            DataType::String => Col::Str(series.str()?),
            DataType::Boolean => Col::Bool(series.bool()?),
            DataType::Datetime(_, _) => Col::Ts(series.datetime()?.physical().clone()),
            other => anyhow::bail!(
                "column {} has type {other}, which CSV export does not handle",
                column.name()
            ),
        });
    }
    // Rows are rendered in parallel blocks and joined in order (same bytes as one pass).
    const BLOCK_ROWS: usize = 65_536;
    let height = table.height();
    let render = |rows: std::ops::Range<usize>| -> Vec<u8> {
        let mut out = Vec::with_capacity(rows.len() * cols.len() * 10);
        write_rows(&mut out, &cols, rows);
        out
    };
    let blocks: Vec<Vec<u8>> = (0..height.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|block| render(block * BLOCK_ROWS..((block + 1) * BLOCK_ROWS).min(height)))
        .collect();
    out.reserve(blocks.iter().map(Vec::len).sum());
    for block in blocks {
        out.extend_from_slice(&block);
    }
    Ok(out)
}

enum Col<'a> {
    I64(&'a Int64Chunked),
    F64(&'a Float64Chunked),
    Str(&'a StringChunked),
    Bool(&'a BooleanChunked),
    Ts(Int64Chunked),
}

fn write_rows(out: &mut Vec<u8>, cols: &[Col<'_>], rows: std::ops::Range<usize>) {
    for row in rows {
        for (j, col) in cols.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            match col {
                Col::I64(ca) => {
                    if let Some(v) = ca.get(row) {
                        let _ = write!(out, "{v}");
                    }
                }
                Col::F64(ca) => {
                    if let Some(v) = ca.get(row) {
                        write_float(out, v);
                    }
                }
                Col::Str(ca) => {
                    if let Some(v) = ca.get(row) {
                        write_text(out, v);
                    }
                }
                Col::Bool(ca) => {
                    if let Some(v) = ca.get(row) {
                        out.extend_from_slice(if v { b"true" } else { b"false" });
                    }
                }
                Col::Ts(ca) => {
                    if let Some(v) = ca.get(row) {
                        out.extend_from_slice(format_micros(v).as_bytes());
                    }
                }
            }
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_quoting_is_rfc4180() {
        let table = DataFrame::new(
            3,
            vec![
                Column::new("name".into(), ["=HYPERLINK(\"x\")", "a,b", "-1+2"]),
                Column::new("v".into(), [Some(1.5f64), None, Some(-0.25)]),
                Column::new("n".into(), [1i64, -2, 3]),
                Column::new("b".into(), [true, false, true]),
            ],
        )
        .unwrap();
        let text = String::from_utf8(to_csv(&table).unwrap()).unwrap();
        assert_eq!(text, "name,v,n,b\n\"'=HYPERLINK(\"\"x\"\")\",1.5,1,true\n\"a,b\",,-2,false\n'-1+2,-0.25,3,true\n");
    }

    #[test]
    fn dates_are_iso() {
        let dates = Int64Chunked::from_vec("d".into(), vec![1_291_191_960_000_000])
            .into_datetime(TimeUnit::Microseconds, None)
            .into_column();
        let table = DataFrame::new(1, vec![dates]).unwrap();
        assert_eq!(
            String::from_utf8(to_csv(&table).unwrap()).unwrap(),
            "d\n2010-12-01 08:26:00\n"
        );
    }
}
