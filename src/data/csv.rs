//! The course's CSV files: numbers separated by commas, `#` starting a comment.

use crate::error::{Error, Result};

/// A table of numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Values, row-major, in f64 as NumPy's `loadtxt` reads them (a lab that asks for f32
    /// gets them rounded by [`Table::columns`]).
    pub data: Vec<f64>,
}

impl Table {
    /// Columns `range` of every row, row-major (e.g. the features `0..cols-1`).
    pub fn columns(&self, range: std::ops::Range<usize>) -> Vec<f32> {
        (0..self.rows)
            .flat_map(|r| self.data[r * self.cols + range.start..r * self.cols + range.end].iter().map(|&v| v as f32))
            .collect()
    }
}

/// Parses CSV text as NumPy's `loadtxt(delimiter=',')` does: `#` starts a comment, blank lines
/// are skipped, every row must have the same number of values. `name` names it in errors.
pub fn parse_csv(name: &str, text: &str) -> Result<Table> {
    let mut data = Vec::new();
    let mut cols = None;
    let mut rows = 0;
    let mut offset = 0u64;
    for (line_no, raw) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw.len() as u64;
        let content = raw.split('#').next().unwrap_or("").trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            continue;
        }
        let mut count = 0;
        let mut field_start = line_start;
        for field in content.split(',') {
            let value: f64 = field.trim().parse().map_err(|_| Error::Format {
                path: name.to_string(),
                offset: field_start,
                message: format!("line {}, column {}: '{}' is not a number", line_no + 1, count + 1, field.trim()),
            })?;
            data.push(value);
            count += 1;
            field_start += field.len() as u64 + 1;
        }
        match cols {
            None => cols = Some(count),
            Some(c) if c != count => {
                return Err(Error::Format {
                    path: name.to_string(),
                    offset: line_start,
                    message: format!("line {} has {count} values but the rows before it have {c}", line_no + 1),
                });
            }
            _ => {}
        }
        rows += 1;
    }
    let cols =
        cols.ok_or_else(|| Error::Format { path: name.to_string(), offset: 0, message: "no data rows".into() })?;
    Ok(Table { rows, cols, data })
}

/// Reads a CSV file from disk.
pub fn read_csv(path: &std::path::Path) -> Result<Table> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    parse_csv(&path.display().to_string(), &text)
}

/// The course's CSV files, shipped inside the binary (assets/csv).
pub fn shipped(name: &str) -> Option<Result<Table>> {
    let text = match name {
        "data-01-test-score.csv" => include_str!("../../assets/csv/data-01-test-score.csv"),
        "data-03-diabetes.csv" => include_str!("../../assets/csv/data-03-diabetes.csv"),
        "data-04-zoo.csv" => include_str!("../../assets/csv/data-04-zoo.csv"),
        "data-02-stock_daily.csv" => include_str!("../../assets/csv/data-02-stock_daily.csv"),
        _ => return None,
    };
    Some(parse_csv(&format!("assets/csv/{name}"), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_crlf_are_skipped() {
        let t = parse_csv("t", "# a, b\r\n1,2\r\n\r\n3, 4 # trailing\r\n# 5,6,7,,,\n").unwrap();
        assert_eq!((t.rows, t.cols), (2, 2));
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn ragged_rows_and_non_numbers_name_line_and_offset() {
        let err = parse_csv("x.csv", "1,2\n3\n").unwrap_err();
        assert!(matches!(&err, Error::Format { offset: 4, .. }), "{err}");
        assert!(err.to_string().contains("x.csv") && err.to_string().contains("line 2"), "{err}");
        let err = parse_csv("x.csv", "1,2\n3,abc\n").unwrap_err();
        assert!(matches!(&err, Error::Format { offset: 6, .. }), "{err}");
        assert!(err.to_string().contains("'abc'") && err.to_string().contains("column 2"), "{err}");
        assert!(parse_csv("x.csv", "# only comments\n").is_err());
    }
}
