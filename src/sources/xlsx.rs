//! The UCI `Online Retail.xlsx` workbook: codes that Excel holds as numbers (InvoiceNo 536365,
//! StockCode 71053, CustomerID 17850) become the same text a CSV export has, date cells become
//! timestamps, and every row goes through the CSV path's row parser, so both give one table.

use std::borrow::Cow;
use std::path::Path;

use calamine::{open_workbook, DataRef, Reader, ReaderRef, Xlsx};
use rayon::prelude::*;

use super::dates::excel_serial_to_micros;
use super::retail::{map_header, ParsedRetail, RetailLines, COLUMNS};
use super::{BadRows, ReadOptions, SourceError};

/// The text a CSV export would hold for a cell.
fn cell_text<'a>(cell: &'a DataRef<'a>) -> Result<Cow<'a, str>, String> {
    Ok(match cell {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::SharedString(text) => Cow::Borrowed(text),
        DataRef::String(text) | DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => {
            Cow::Borrowed(text.as_str())
        }
        DataRef::Int(value) => Cow::Owned(value.to_string()),
        DataRef::Float(value) => {
            if value.fract() == 0.0 && value.abs() < 1e15 {
                Cow::Owned((*value as i64).to_string())
            } else {
                Cow::Owned(value.to_string())
            }
        }
        DataRef::Bool(value) => Cow::Borrowed(if *value { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(value) => Cow::Owned(value.as_f64().to_string()),
        DataRef::Error(err) => return Err(format!("the cell holds a spreadsheet error ({err})")),
    })
}

/// Reads the retail sheet of an xlsx workbook (`sheet` empty = the first sheet).
pub fn read_xlsx(
    path: &Path,
    sheet: &str,
    options: ReadOptions,
) -> Result<ParsedRetail, SourceError> {
    let mut workbook: Xlsx<_> = open_workbook(path)
        .map_err(|err| SourceError::file(path, format!("not a readable xlsx workbook: {err}")))?;
    let names = workbook.sheet_names();
    let sheet_name = if sheet.is_empty() {
        match names.first() {
            Some(name) => name.clone(),
            None => return Err(SourceError::file(path, "the workbook has no sheets")),
        }
    } else if names.iter().any(|name| name == sheet) {
        sheet.to_string()
    } else {
        return Err(SourceError::file(
            path,
            format!("sheet {sheet:?} not found ([data] retail_sheet); the workbook has {names:?}"),
        ));
    };
    let range = workbook.worksheet_range_ref(&sheet_name).map_err(|err| {
        SourceError::file(path, format!("cannot read sheet {sheet_name:?}: {err}"))
    })?;
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    let rows: Vec<&[DataRef<'_>]> = range.rows().collect();
    let Some((header_cells, body)) = rows.split_first() else {
        return Err(SourceError::file(
            path,
            format!("sheet {sheet_name:?} is empty"),
        ));
    };
    let location = |row: usize| format!("sheet {sheet_name:?} row {}", first_row + row + 1);
    let header: Vec<Cow<str>> = header_cells
        .iter()
        .map(|cell| cell_text(cell).unwrap_or(Cow::Borrowed("")))
        .collect();
    let positions = map_header(path, &format!("{} (header)", location(0)), &header)?;
    let date_slot = 4;
    let chunk_rows = body
        .len()
        .div_ceil(rayon::current_num_threads().max(1) * 4)
        .max(1);
    let results: Vec<Result<(RetailLines, BadRows), SourceError>> = body
        .par_chunks(chunk_rows)
        .enumerate()
        .map(|(chunk_index, chunk)| {
            let mut lines = RetailLines::default();
            let mut bad_rows = BadRows::default();
            for (offset, cells) in chunk.iter().enumerate() {
                let row_index = 1 + chunk_index * chunk_rows + offset;
                if cells.iter().all(|cell| matches!(cell, DataRef::Empty)) {
                    continue;
                }
                let mut texts: [Cow<str>; 8] = Default::default();
                let mut date = None;
                let mut failure = None;
                for slot in 0..8 {
                    let cell = cells.get(positions[slot]).unwrap_or(&DataRef::Empty);
                    if slot == date_slot {
                        if let DataRef::DateTime(value) = cell {
                            match excel_serial_to_micros(value.as_f64()) {
                                Ok(micros) => date = Some(micros),
                                Err(why) => failure = Some((slot, why)),
                            }
                            continue;
                        }
                        if let DataRef::Float(value) = cell {
                            match excel_serial_to_micros(*value) {
                                Ok(micros) => date = Some(micros),
                                Err(why) => failure = Some((slot, why)),
                            }
                            continue;
                        }
                    }
                    match cell_text(cell) {
                        Ok(text) => texts[slot] = text,
                        Err(why) => failure = Some((slot, why)),
                    }
                }
                let result = match failure {
                    Some(failure) => Err(failure),
                    None => {
                        let refs: [&str; 8] = std::array::from_fn(|i| texts[i].as_ref());
                        lines.push_row(refs, date)
                    }
                };
                if let Err((slot, why)) = result {
                    bad_rows.handle(
                        options.on_bad_row,
                        SourceError::at(
                            path,
                            format!("{}, column {}", location(row_index), COLUMNS[slot].0),
                            why,
                        ),
                    )?;
                }
            }
            Ok((lines, bad_rows))
        })
        .collect();
    let parsed = ParsedRetail::gather(results)?;
    parsed.bad_rows.refuse_if_all_bad(parsed.len(), path)?;
    if parsed.is_empty() && parsed.bad_rows.count == 0 {
        return Err(SourceError::file(
            path,
            format!("sheet {sheet_name:?} has a header but no data rows"),
        ));
    }
    Ok(parsed)
}
