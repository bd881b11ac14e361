//! Date-time parsing for the retail file: `12/1/2010 8:26` (US month/day/year, the UCI CSV
//! export), `2010-12-01 08:26:00` (ISO), and Excel serial numbers. Values are microseconds
//! since the Unix epoch, without a time zone, as the data has none.

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count from 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn number(text: &str, max_len: usize) -> Option<u32> {
    if text.is_empty() || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Exactly three parts separated by `sep`, without allocating (this runs once per line).
fn split3(text: &str, sep: char) -> Option<[&str; 3]> {
    let mut parts = text.split(sep);
    let out = [parts.next()?, parts.next()?, parts.next()?];
    parts.next().is_none().then_some(out)
}

fn to_micros(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
) -> Result<i64, String> {
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is not in 1..=12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("day {day} does not exist in {year}-{month:02}"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "time {hour}:{minute:02}:{second:02} is not a valid time of day"
        ));
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Ok(seconds * MICROS_PER_SECOND + i64::from(micros))
}

fn parse_time(text: &str) -> Result<(u32, u32, u32, u32), String> {
    let mut parts = text.split(':');
    let hour = parts.next().and_then(|p| number(p, 2));
    let minute = parts.next().and_then(|p| number(p, 2));
    let (second, micros) = match parts.next() {
        None => (Some(0), 0),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let micros = if frac.is_empty() {
                0
            } else if frac.len() <= 6 && frac.bytes().all(|b| b.is_ascii_digit()) {
                frac.parse::<u32>().unwrap_or(0) * 10u32.pow(6 - frac.len() as u32)
            } else {
                return Err("bad fraction of a second".into());
            };
            (number(whole, 2), micros)
        }
    };
    if parts.next().is_some() {
        return Err("too many ':' in the time".into());
    }
    match (hour, minute, second) {
        (Some(h), Some(m), Some(s)) => Ok((h, m, s, micros)),
        _ => Err("the time is not H:MM or H:MM:SS".into()),
    }
}

/// Parses `M/D/YYYY H:MM[:SS]` or `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]` (a date alone means
/// midnight). The error says what is wrong.
pub(crate) fn parse_datetime(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty date".into());
    }
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((date, time)) => (date, time.trim()),
        None => (text, ""),
    };
    let (hour, minute, second, micros) = if time.is_empty() {
        (0, 0, 0, 0)
    } else {
        parse_time(time)?
    };
    let shape_error = || {
        format!(
            "{} is not a date like 12/1/2010 8:26 or 2010-12-01 08:26:00",
            super::shown(text)
        )
    };
    let (year, month, day) = if date.contains('/') {
        let Some(parts) = split3(date, '/') else {
            return Err(shape_error());
        };
        let (Some(month), Some(day), Some(year)) = (
            number(parts[0], 2),
            number(parts[1], 2),
            number(parts[2], 4),
        ) else {
            return Err(shape_error());
        };
        if parts[2].len() != 4 {
            return Err(shape_error());
        }
        (i64::from(year), month, day)
    } else if date.contains('-') {
        let Some(parts) = split3(date, '-') else {
            return Err(shape_error());
        };
        if parts[0].len() != 4 {
            return Err(shape_error());
        }
        let (Some(year), Some(month), Some(day)) = (
            number(parts[0], 4),
            number(parts[1], 2),
            number(parts[2], 2),
        ) else {
            return Err(shape_error());
        };
        (i64::from(year), month, day)
    } else {
        return Err(shape_error());
    };
    to_micros(year, month, day, hour, minute, second, micros)
        .map_err(|why| format!("{}: {why}", super::shown(text)))
}

/// Converts an Excel serial date-time (days since 1899-12-30) to microseconds, rounded to
/// the nearest second (Excel stores times as binary fractions of a day).
pub(crate) fn excel_serial_to_micros(serial: f64) -> Result<i64, String> {
    if !serial.is_finite() || !(1.0..=2_958_465.0).contains(&serial) {
        return Err(format!("{serial} is not an Excel date"));
    }
    let seconds = ((serial - 25_569.0) * SECONDS_PER_DAY as f64).round() as i64;
    Ok(seconds * MICROS_PER_SECOND)
}

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (ISO, for CSV export).
pub(crate) fn format_micros(micros: i64) -> String {
    let (y, m, d, hour, minute, second) = civil_from_micros(micros);
    format!("{y:04}-{m:02}-{d:02} {hour:02}:{minute:02}:{second:02}")
}

/// Year, month, day, hour, minute and second of microseconds since the Unix epoch (UTC).
pub(crate) fn civil_from_micros(micros: i64) -> (i64, i64, i64, i64, i64, i64) {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let rem = seconds.rem_euclid(SECONDS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    (
        y,
        i64::from(m),
        i64::from(d),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_and_iso_forms_agree() {
        let us = parse_datetime("12/1/2010 8:26").unwrap();
        let iso = parse_datetime("2010-12-01 08:26:00").unwrap();
        assert_eq!(us, iso);
        assert_eq!(format_micros(us), "2010-12-01 08:26:00");
        assert_eq!(us, 1_291_191_960 * 1_000_000);
    }

    #[test]
    fn seconds_and_t_separator() {
        assert_eq!(
            parse_datetime("2011-12-09T12:50:42").unwrap(),
            parse_datetime("12/9/2011 12:50:42").unwrap()
        );
    }

    #[test]
    fn impossible_dates_are_rejected() {
        assert!(parse_datetime("31/02/2011 10:00").is_err());
        assert!(parse_datetime("2/31/2011 10:00")
            .unwrap_err()
            .contains("day 31"));
        assert!(parse_datetime("2011-13-01 00:00:00")
            .unwrap_err()
            .contains("month 13"));
        assert!(parse_datetime("2011-02-29 00:00").is_err());
        assert!(parse_datetime("2012-02-29 00:00").is_ok());
        assert!(parse_datetime("").unwrap_err().contains("empty"));
        assert!(parse_datetime("12/1/2010 25:00").is_err());
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("12/1/10 8:26").is_err());
    }

    #[test]
    fn excel_serial_matches_text() {
        // 2010-12-01 08:26 is serial 40513.35138888889.
        let from_excel = excel_serial_to_micros(40_513.351_388_888_89).unwrap();
        assert_eq!(from_excel, parse_datetime("2010-12-01 08:26:00").unwrap());
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 14_944, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
