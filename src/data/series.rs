//! A time series as lab 11-4 makes it: rows in time order, split in two, each part scaled by
//! its own per-column minimum and maximum, and windows of consecutive rows whose target is
//! the next row's last column.

use super::csv::Table;
use crate::error::{Error, Result};
use crate::train::Data;

/// Each column of `rows` (row-major, `cols` wide) scaled to (x − min) / (max − min + 1e-7)
/// by its own minimum and maximum, in f64 as the lab's NumPy does.
fn min_max_scaled(rows: &[f64], cols: usize) -> Vec<f64> {
    let mut out = rows.to_vec();
    for c in 0..cols {
        let column = rows.iter().skip(c).step_by(cols);
        let (lo, hi) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        for v in out.iter_mut().skip(c).step_by(cols) {
            *v = (*v - lo) / (hi - lo + 1e-7);
        }
    }
    out
}

/// Windows of `window` scaled rows `[window, cols]` (f32), each targeting the next row's last
/// column.
fn windows(scaled: &[f64], cols: usize, window: usize) -> Data {
    let rows = scaled.len() / cols;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for start in 0..rows.saturating_sub(window) {
        x.extend(scaled[start * cols..(start + window) * cols].iter().map(|&v| v as f32));
        y.push(scaled[(start + window) * cols + cols - 1] as f32);
    }
    Data { x, example: vec![window, cols], y, target_width: 1 }
}

/// Lab 11-4's sets from `table` (newest row first, as the stock file is): the rows reversed,
/// the first `⌊rows · train_fraction⌋` for training and, for testing, the rest with the last
/// `window` training rows before them as context; each part min-max scaled by itself.
pub fn train_and_test(table: &Table, window: usize, train_fraction: f64) -> Result<(Data, Data)> {
    let cols = table.cols;
    let mut rows: Vec<f64> = Vec::with_capacity(table.data.len());
    for r in (0..table.rows).rev() {
        rows.extend_from_slice(&table.data[r * cols..(r + 1) * cols]);
    }
    let train_rows = (table.rows as f64 * train_fraction) as usize;
    if window == 0 || train_rows <= window || table.rows <= train_rows {
        return Err(Error::InvalidArgument {
            op: "series",
            message: format!(
                "{} rows split at {train_rows} leave no window of {window} rows and a next row on both sides",
                table.rows
            ),
        });
    }
    let train = min_max_scaled(&rows[..train_rows * cols], cols);
    let test = min_max_scaled(&rows[(train_rows - window) * cols..], cols);
    Ok((windows(&train, cols, window), windows(&test, cols, window)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stock_file_gives_the_labs_windows() {
        let table = crate::data::csv::shipped("data-02-stock_daily.csv").unwrap().unwrap();
        assert_eq!((table.rows, table.cols), (732, 5));
        let (train, test) = train_and_test(&table, 7, 0.7).unwrap();
        assert_eq!((train.len(), test.len(), train.example.clone()), (505, 220, vec![7, 5]));
        // Each part is scaled by itself: its columns span 0 to 1 (the top 1 − 1e-7 rounds to 1
        // in f32).
        for data in [&train, &test] {
            let close: Vec<f32> = data.x.iter().skip(4).step_by(5).copied().collect();
            let max = close.iter().fold(0.0f32, |m, &v| m.max(v));
            assert!(close.iter().all(|&v| v >= 0.0) && max > 0.99 && max <= 1.0, "{max}");
        }
        // The target of window 0 is row 7's close: window 1's last row.
        assert_eq!(train.y[0], train.x[7 * 5 + 6 * 5 + 4]);
    }

    #[test]
    fn too_few_rows_are_a_named_error() {
        let table = Table { rows: 5, cols: 2, data: vec![0.0; 10] };
        let e = train_and_test(&table, 7, 0.7).unwrap_err().to_string();
        assert!(e.contains("5 rows split at 3"), "{e}");
    }
}
