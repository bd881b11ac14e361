//! Number formatting shared by the charts, the dashboard and the domain's sentences.

/// `n` with a comma between groups of three digits: 1234567 → "1,234,567".
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Rounds to an integer and groups thousands: 1234567.4 → "1,234,567".
pub(crate) fn thousands(v: f64) -> String {
    let rounded = v.abs().round();
    let sign = if v < 0.0 && rounded > 0.0 { "-" } else { "" };
    format!("{sign}{}", grouped(rounded as u64))
}

/// Two decimals with thousands grouped, `+` first when `signed`: 61535.224 → "61,535.22",
/// -6086.7 → "-6,086.70" (signed: 47.37 → "+47.37").
pub(crate) fn amount(v: f64, signed: bool) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let cents = (v.abs() * 100.0).round() as u64;
    let sign = match (v < 0.0 && cents > 0, signed) {
        (true, _) => "-",
        (false, true) => "+",
        (false, false) => "",
    };
    format!("{sign}{}.{:02}", grouped(cents / 100), cents % 100)
}

/// A rate as a percentage with up to two decimals, trailing zeros trimmed: 0.075 → "7.5%".
pub(crate) fn rate(r: f64) -> String {
    let text = format!("{:.2}", r * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text == "-0" { "0" } else { text };
    format!("{text}%")
}

/// Money in a currency, as the dashboard prints it.
pub(crate) struct Money {
    symbol: String,
}

impl Money {
    /// The symbol of an ISO code ("GBP" → "£"); unknown codes print as "CHF 12.00".
    pub(crate) fn new(code: &str) -> Self {
        let symbol = match code {
            "" | "USD" => "$".to_string(),
            "GBP" => "£".to_string(),
            "EUR" => "€".to_string(),
            other => format!("{other} "),
        };
        Money { symbol }
    }

    /// "$1,234", "-$1,234", or "$12.34" below 100 in absolute value.
    pub(crate) fn fmt(&self, v: f64) -> String {
        let sign = if v < 0.0 { "-" } else { "" };
        if v.abs() < 100.0 {
            format!("{sign}{}{:.2}", self.symbol, v.abs())
        } else {
            format!("{sign}{}{}", self.symbol, thousands(v.abs()))
        }
    }

    /// Compact: "$1.5k", "-$250".
    pub(crate) fn short(&self, v: f64) -> String {
        let sign = if v < 0.0 { "-" } else { "" };
        format!(
            "{sign}{}{}",
            self.symbol,
            crate::report::charts::fmt_compact(v.abs())
        )
    }

    /// Like [`Money::fmt`] with an explicit "+" for gains.
    pub(crate) fn signed(&self, v: f64) -> String {
        if v >= 0.0 {
            format!("+{}", self.fmt(v))
        } else {
            self.fmt(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{amount, grouped};

    #[test]
    fn amounts_group_thousands_with_two_decimals() {
        assert_eq!(amount(61_535.224, false), "61,535.22");
        assert_eq!(amount(-6_086.7, false), "-6,086.70");
        assert_eq!(amount(47.37, true), "+47.37");
        assert_eq!(amount(-0.001, true), "+0.00");
        assert_eq!(amount(999.999, false), "1,000.00");
    }

    #[test]
    fn groups_of_three() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }
}
