//! Tables as CSV for Tableau, Excel and pandas: a header row, `.` decimals (shortest
//! round-trip form), ISO date-times, `true`/`false`, empty cells for nulls, RFC 4180 quoting.
//! Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab
//! or carriage return) get a leading `'`, as OWASP recommends against CSV injection.

use std::io::Write;

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use crate::sources::dates::{civil_from_micros, format_micros};

/// Neutralises a text cell against spreadsheet formula injection.
pub(crate) fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            std::borrow::Cow::Owned(format!("'{text}"))
        }
        _ => std::borrow::Cow::Borrowed(text),
    }
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    let text = neutralise(text);
    if text
        .bytes()
        .any(|byte| matches!(byte, b',' | b'"' | b'\n' | b'\r'))
    {
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

/// Appends an integer in decimal: what `{}` prints, without the formatting machinery (several
/// times slower on the hot paths of CSV export and `fluz generate`).
pub(crate) fn write_integer(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut n = value.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends a timestamp as `format_micros` renders it, straight into the buffer.
fn write_timestamp(out: &mut Vec<u8>, micros: i64) {
    let (y, m, d, hour, minute, second) = civil_from_micros(micros);
    if (0..=9999).contains(&y) {
        let two = |out: &mut Vec<u8>, v: i64| {
            out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
        };
        two(out, y / 100);
        two(out, y % 100);
        out.push(b'-');
        two(out, m);
        out.push(b'-');
        two(out, d);
        out.push(b' ');
        two(out, hour);
        out.push(b':');
        two(out, minute);
        out.push(b':');
        two(out, second);
    } else {
        out.extend_from_slice(format_micros(micros).as_bytes());
    }
}

/// Writes a table as CSV. Rows are rendered in parallel blocks and written in order (the same
/// bytes as one pass), a few blocks at a time, so memory stays at a few blocks whatever the
/// table's size, and the block buffers are reused rather than freshly allocated.
pub(crate) fn write_csv(table: &DataFrame, out: &mut dyn Write) -> Result<()> {
    let mut table = table.clone();
    table.rechunk_mut_par();
    let mut header = Vec::new();
    for (j, name) in table.get_column_names().iter().enumerate() {
        if j > 0 {
            header.push(b',');
        }
        write_text(&mut header, name.as_str());
    }
    header.push(b'\n');
    out.write_all(&header)?;
    let height = table.height();
    if height == 0 {
        return Ok(());
    }
    let mut physical = Vec::with_capacity(table.width());
    for column in table.columns() {
        let series = column.as_materialized_series();
        physical.push(match series.dtype() {
            DataType::Datetime(_, _) => series.datetime()?.physical().clone().into_series(),
            _ => series.clone(),
        });
    }
    let mut cols = Vec::with_capacity(table.width());
    for (column, series) in table.columns().iter().zip(&physical) {
        cols.push(match column.dtype() {
            DataType::Int64 => Col::I64(series.i64()?.downcast_as_array()),
            DataType::Float64 => Col::F64(series.f64()?.downcast_as_array()),
            DataType::String => Col::Str(series.str()?.downcast_as_array()),
            DataType::Boolean => Col::Bool(series.bool()?.downcast_as_array()),
            DataType::Datetime(_, _) => Col::Ts(series.i64()?.downcast_as_array()),
            other => anyhow::bail!(
                "column {} has type {other}, which CSV export does not handle",
                column.name()
            ),
        });
    }
    const BLOCK_ROWS: usize = 32_768;
    let batch = 2 * rayon::current_num_threads().max(1);
    let n_blocks = height.div_ceil(BLOCK_ROWS);
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); batch.min(n_blocks)];
    for first in (0..n_blocks).step_by(batch) {
        let blocks = batch.min(n_blocks - first);
        buffers[..blocks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(offset, buffer)| {
                let block = first + offset;
                buffer.clear();
                write_rows(
                    buffer,
                    &cols,
                    block * BLOCK_ROWS..((block + 1) * BLOCK_ROWS).min(height),
                );
            });
        for buffer in &buffers[..blocks] {
            out.write_all(buffer)?;
        }
    }
    Ok(())
}

/// A column's single Arrow array (the table is rechunked first).
enum Col<'a> {
    I64(&'a <Int64Type as PolarsDataType>::Array),
    F64(&'a <Float64Type as PolarsDataType>::Array),
    Str(&'a <StringType as PolarsDataType>::Array),
    Bool(&'a <BooleanType as PolarsDataType>::Array),
    /// Microseconds since the epoch.
    Ts(&'a <Int64Type as PolarsDataType>::Array),
}

fn write_rows(out: &mut Vec<u8>, cols: &[Col<'_>], rows: std::ops::Range<usize>) {
    for row in rows {
        for (j, col) in cols.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            match col {
                Col::I64(array) => {
                    if let Some(value) = array.get(row) {
                        write_integer(out, value);
                    }
                }
                Col::F64(array) => {
                    if let Some(value) = array.get(row) {
                        write_float(out, value);
                    }
                }
                Col::Str(array) => {
                    if let Some(value) = array.get(row) {
                        write_text(out, value);
                    }
                }
                Col::Bool(array) => {
                    if let Some(value) = array.get(row) {
                        out.extend_from_slice(if value { b"true" } else { b"false" });
                    }
                }
                Col::Ts(array) => {
                    if let Some(value) = array.get(row) {
                        write_timestamp(out, value);
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

    /// Renders a table as CSV bytes.
    fn to_csv(table: &DataFrame) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write_csv(table, &mut out)?;
        Ok(out)
    }

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
    fn integers_and_timestamps_print_as_std_does() {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut values = vec![
            0,
            1,
            -1,
            9,
            10,
            -10,
            i64::MAX,
            i64::MIN,
            1_291_191_960_000_000,
        ];
        for _ in 0..2000 {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            values.push((rng as i64) >> (rng % 60));
        }
        for value in values {
            let mut out = Vec::new();
            write_integer(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
            // Timestamps within ±5,000 years of 1970 (and the extremes, via the fallback).
            let micros = value % (5_000 * 366 * 86_400 * 1_000_000);
            for micros in [micros, value] {
                let mut out = Vec::new();
                write_timestamp(&mut out, micros);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    format_micros(micros),
                    "{micros}"
                );
            }
        }
    }

    #[test]
    fn large_tables_stream_in_blocks_with_nulls() {
        // More blocks than one batch of them, whatever the thread count up to 4.
        let n = 300_000;
        let table = DataFrame::new(
            n,
            vec![
                Column::new(
                    "i".into(),
                    (0..n as i64)
                        .map(|i| (i % 7 != 0).then_some(i - 50_000))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "s".into(),
                    (0..n)
                        .map(|i| (i % 5 != 0).then(|| format!("v{i}")))
                        .collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        let text = String::from_utf8(to_csv(&table).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), n + 1);
        for (i, line) in lines[1..].iter().enumerate() {
            let int = if i % 7 != 0 {
                (i as i64 - 50_000).to_string()
            } else {
                String::new()
            };
            let string = if i % 5 != 0 {
                format!("v{i}")
            } else {
                String::new()
            };
            assert_eq!(*line, format!("{int},{string}"));
        }
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
