//! Dependency-free text helpers: error-message quoting and the edge-list line parser (the
//! fuzz crate includes this file by path).

/// A value as quoted in an error message: at most 40 characters, so a 10 MB field does not
/// make a 10 MB message.
pub fn shown(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}… ({} bytes)", text.len())
    }
}

/// What one line of an edge list holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EdgeLine {
    /// Empty, or a `#` / `%` comment.
    Blank,
    /// Two node ids.
    Edge(i64, i64),
    /// Not an edge: the column (when one is to blame) and why.
    Bad {
        column: Option<&'static str>,
        why: String,
    },
}

/// Parses one line of a SNAP edge list (`a b`, whitespace-separated, CR tolerated).
pub(crate) fn parse_edge_line(line: &[u8]) -> EdgeLine {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(text) = std::str::from_utf8(line) else {
        return EdgeLine::Bad {
            column: None,
            why: "not valid UTF-8 text".into(),
        };
    };
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') || text.starts_with('%') {
        return EdgeLine::Blank;
    }
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), None) => match (parse_node(a), parse_node(b)) {
            (Ok(a), Ok(b)) => EdgeLine::Edge(a, b),
            (Err(why), _) => EdgeLine::Bad {
                column: Some("column 1"),
                why,
            },
            (_, Err(why)) => EdgeLine::Bad {
                column: Some("column 2"),
                why,
            },
        },
        (Some(_), None, _) => EdgeLine::Bad {
            column: Some("column 2"),
            why: "missing: expected two node ids per line".into(),
        },
        _ => EdgeLine::Bad {
            column: Some("column 3"),
            why: "unexpected: expected two node ids per line".into(),
        },
    }
}

fn parse_node(text: &str) -> Result<i64, String> {
    match text.parse::<u64>() {
        Ok(value) if value <= i64::MAX as u64 => Ok(value as i64),
        _ => Err(format!(
            "{} is not a node id (a non-negative whole number)",
            shown(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_lines() {
        assert_eq!(parse_edge_line(b"0 1\r"), EdgeLine::Edge(0, 1));
        assert_eq!(parse_edge_line(b"  # comment"), EdgeLine::Blank);
        assert!(matches!(
            parse_edge_line(b"x 1"),
            EdgeLine::Bad {
                column: Some("column 1"),
                ..
            }
        ));
        assert!(matches!(
            parse_edge_line(b"\xff 1"),
            EdgeLine::Bad { column: None, .. }
        ));
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(shown("1,5"), "\"1,5\"");
        let long = "x".repeat(10_000);
        assert_eq!(shown(&long), format!("{:?}… (10000 bytes)", "x".repeat(40)));
    }
}
