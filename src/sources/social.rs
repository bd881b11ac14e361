//! SNAP edge lists (`facebook_combined.txt[.gz]`): one `a b` pair of node ids per line.
//! Self-loops are dropped and an undirected edge {a, b} is kept once, as (min, max), in order
//! of first appearance.

use std::collections::HashSet;
use std::path::Path;

use polars::prelude::*;

use super::{read_input, BadRows, ReadOptions, SourceError, StepCount};

/// Reads an edge list into the `social_edges` table and its step counts.
pub fn read_edges(
    path: &Path,
    options: ReadOptions,
) -> Result<(DataFrame, Vec<StepCount>), SourceError> {
    let bytes = read_input(path, options.max_decompressed_bytes)?;
    let mut bad_rows = BadRows::default();
    let mut raw = 0usize;
    let mut pairs: Vec<(i64, i64)> = Vec::with_capacity(bytes.len() / 10);
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        match super::text::parse_edge_line(line) {
            super::text::EdgeLine::Blank => {}
            super::text::EdgeLine::Edge(a, b) => {
                raw += 1;
                pairs.push((a, b));
            }
            super::text::EdgeLine::Bad { column, why } => {
                raw += 1;
                let location = match column {
                    Some(column) => format!("line {line_no}, {column}"),
                    None => format!("line {line_no}"),
                };
                bad_rows.handle(options.on_bad_row, SourceError::at(path, location, why))?;
            }
        }
    }
    if raw == 0 {
        return Err(SourceError::file(path, "the file holds no edges"));
    }
    bad_rows.refuse_if_all_bad(pairs.len(), path)?;
    let mut steps = vec![StepCount {
        source: "social",
        step: "raw",
        rows: raw,
    }];
    if bad_rows.count > 0 {
        steps.push(StepCount {
            source: "social",
            step: "skip_bad_rows",
            rows: pairs.len(),
        });
    }
    pairs.retain(|(a, b)| a != b);
    steps.push(StepCount {
        source: "social",
        step: "drop_self_loops",
        rows: pairs.len(),
    });
    let mut seen = HashSet::with_capacity(pairs.len());
    let mut node_a = Vec::with_capacity(pairs.len());
    let mut node_b = Vec::with_capacity(pairs.len());
    for (a, b) in pairs {
        let edge = (a.min(b), a.max(b));
        if seen.insert(edge) {
            node_a.push(edge.0);
            node_b.push(edge.1);
        }
    }
    steps.push(StepCount {
        source: "social",
        step: "drop_duplicate_edges",
        rows: node_a.len(),
    });
    let height = node_a.len();
    let table = DataFrame::new(
        height,
        vec![
            Column::new("node_a".into(), node_a),
            Column::new("node_b".into(), node_b),
        ],
    )
    .map_err(|err| SourceError::file(path, err.to_string()))?;
    Ok((table, steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::OnBadRow;

    fn read(text: &str, policy: OnBadRow) -> Result<(DataFrame, Vec<StepCount>), SourceError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edges.txt");
        std::fs::write(&path, text).unwrap();
        read_edges(
            &path,
            ReadOptions {
                on_bad_row: policy,
                ..Default::default()
            },
        )
    }

    #[test]
    fn self_loops_and_duplicates_are_dropped() {
        let (table, steps) =
            read("0 1\n1 0\n2 2\n# comment\n1\t3\r\n0 1\n", OnBadRow::Error).unwrap();
        assert_eq!(table.height(), 2);
        let rows: Vec<usize> = steps.iter().map(|s| s.rows).collect();
        assert_eq!(rows, vec![5, 4, 2]);
    }

    #[test]
    fn bad_lines_name_line_and_column() {
        let err = read("0 1\nx 2\n", OnBadRow::Error).unwrap_err().to_string();
        assert!(
            err.contains("line 2, column 1") && err.contains("\"x\""),
            "{err}"
        );
        let err = read("0 1\n5\n", OnBadRow::Error).unwrap_err().to_string();
        assert!(err.contains("line 2, column 2"), "{err}");
        let err = read("0 1 2\n", OnBadRow::Error).unwrap_err().to_string();
        assert!(err.contains("line 1, column 3"), "{err}");
        let err = read("-1 2\n", OnBadRow::Error).unwrap_err().to_string();
        assert!(err.contains("column 1"), "{err}");
    }

    #[test]
    fn skip_counts_bad_lines() {
        let (table, steps) = read("0 1\nx 2\n1 2\n", OnBadRow::Skip).unwrap();
        assert_eq!(table.height(), 2);
        assert_eq!(steps[1].step, "skip_bad_rows");
        assert_eq!(steps[1].rows, 2);
    }

    #[test]
    fn comments_only_is_an_error() {
        assert!(read("# nothing\n", OnBadRow::Error)
            .unwrap_err()
            .to_string()
            .contains("no edges"));
    }
}
