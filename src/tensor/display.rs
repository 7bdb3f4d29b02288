//! Printing a tensor as PyTorch does (`tensor([[1., 2.], …])`, values aligned, rows wrapped at
//! 80 columns, tensors of more than 1,000 elements summarized by their first and last three
//! entries per axis), followed by its shape and device. Printing reads the values back from
//! the GPU.

use super::Tensor;
use std::fmt;

/// Past this many elements, print only the edges of each axis.
const SUMMARIZE_OVER: usize = 1000;
/// Entries kept at each end of a summarized axis.
const EDGE: usize = 3;
/// PyTorch's line width, at which rows wrap.
const LINE_WIDTH: usize = 80;

/// How every printed value is written: one style for the whole tensor, as PyTorch chooses.
#[derive(Clone, Copy)]
enum Style {
    /// Every value whole: `1.`, `-3.`
    Whole,
    /// Four decimals: `0.1000`
    Fixed,
    /// Scientific, for wide ranges: `1.0000e+08`
    Scientific,
}

fn style(values: &[f32]) -> Style {
    let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.iter().all(|v| v.fract() == 0.0) {
        return if finite.iter().any(|v| v.abs() >= 1e8) { Style::Scientific } else { Style::Whole };
    }
    let nonzero: Vec<f32> = finite.iter().map(|v| v.abs()).filter(|&v| v > 0.0).collect();
    let max = nonzero.iter().copied().fold(0.0f32, f32::max);
    let min = nonzero.iter().copied().fold(f32::INFINITY, f32::min);
    if max >= 1e8 || min < 1e-4 || max / min > 1000.0 { Style::Scientific } else { Style::Fixed }
}

fn write_value(v: f32, style: Style) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Whole => format!("{v:.0}."),
        Style::Fixed => format!("{v:.4}"),
        Style::Scientific => {
            // Rust writes 1.0000e8; PyTorch (and C) write 1.0000e+08.
            let s = format!("{v:.4e}");
            let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
            let (sign, digits) = exponent.strip_prefix('-').map_or(("+", exponent), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
    }
}

/// The indices shown along an axis of `extent`: all, or the edges around a gap (`None`).
fn shown(extent: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && extent > 2 * EDGE {
        (0..EDGE).map(Some).chain([None]).chain((extent - EDGE..extent).map(Some)).collect()
    } else {
        (0..extent).map(Some).collect()
    }
}

/// Writes the block of `dims` starting at element `base`, its rows indented by `indent`.
fn write_block(out: &mut String, cells: &Cells, dims: &[usize], base: usize, indent: usize) {
    let inner: usize = dims[1..].iter().product();
    let entries = shown(dims[0], cells.summarize);
    if dims.len() == 1 {
        // A row wraps after as many values as fit the line, each with its ", ".
        let per_line = ((LINE_WIDTH - indent.min(LINE_WIDTH)) / (cells.width + 2)).max(1);
        let texts: Vec<String> = entries
            .iter()
            .map(|e| match e {
                None => "...".into(),
                Some(i) => format!("{:>w$}", cells.texts[base + i], w = cells.width),
            })
            .collect();
        let lines: Vec<String> = texts.chunks(per_line).map(|line| line.join(", ")).collect();
        out.push('[');
        out.push_str(&lines.join(&format!(",\n{}", " ".repeat(indent + 1))));
        out.push(']');
        return;
    }
    out.push('[');
    for (k, entry) in entries.iter().enumerate() {
        if k > 0 {
            // A blank line between blocks of rank 3 and more, as PyTorch prints.
            out.push(',');
            out.push_str(&"\n".repeat(dims.len() - 1));
            out.push_str(&" ".repeat(indent + 1));
        }
        match entry {
            None => out.push_str("..."),
            Some(i) => write_block(out, cells, &dims[1..], base + i * inner, indent + 1),
        }
    }
    out.push(']');
}

/// Every value as text (those a summary leaves out empty), with the printed ones' width.
struct Cells {
    texts: Vec<String>,
    width: usize,
    summarize: bool,
}

impl Cells {
    /// `values` of `dims` written by `write`.
    fn new<T: Copy>(values: &[T], dims: &[usize], write: impl Fn(T) -> String) -> Cells {
        let summarize = values.len() > SUMMARIZE_OVER;
        let mut texts = vec![String::new(); values.len()];
        for i in printed_indices(dims, summarize) {
            texts[i] = write(values[i]);
        }
        let width = texts.iter().map(String::len).max().unwrap_or(1);
        Cells { texts, width, summarize }
    }

    /// `tensor(…)` of these cells.
    fn tensor(&self, dims: &[usize]) -> String {
        let mut out = String::from("tensor(");
        if dims.is_empty() {
            out.push_str(&self.texts[0]);
        } else {
            write_block(&mut out, self, dims, 0, "tensor(".len());
        }
        out.push(')');
        out
    }
}

/// The row-major indices printed for `dims`.
fn printed_indices(dims: &[usize], summarize: bool) -> Vec<usize> {
    let mut out = vec![0usize];
    for (d, &extent) in dims.iter().enumerate() {
        let stride: usize = dims[d + 1..].iter().product();
        let along: Vec<usize> = shown(extent, summarize).into_iter().flatten().collect();
        out = out.iter().flat_map(|&b| along.iter().map(move |&i| b + i * stride)).collect();
    }
    out
}

impl Tensor {
    /// The values in PyTorch's layout, without the shape and device (`tensor([1., 2.])`).
    pub fn format_values(values: &[f32], dims: &[usize]) -> String {
        let summarize = values.len() > SUMMARIZE_OVER;
        let printed: Vec<f32> = printed_indices(dims, summarize).into_iter().map(|i| values[i]).collect();
        let style = style(&printed);
        Cells::new(values, dims, |v| write_value(v, style)).tensor(dims)
    }

    /// Integers (a `LongTensor`'s values) in PyTorch's layout: `tensor([15, 10,  4])`.
    pub fn format_integers(values: &[i64], dims: &[usize]) -> String {
        Cells::new(values, dims, |v| v.to_string()).tensor(dims)
    }
}

impl fmt::Display for Tensor {
    /// Reads the values back (one submit) and prints them with the shape and device:
    /// `tensor([[1., 2.],\n        [3., 4.]]) shape=[2, 2] device=llvmpipe/Vulkan`. The
    /// alternate form (`{:#}`) prints the values alone, exactly as PyTorch's `print(t)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_vec() {
            Ok(values) => write!(f, "{}", Tensor::format_values(&values, self.dims()))?,
            Err(e) => write!(f, "tensor(<values unreadable: {e}>)")?,
        }
        if !f.alternate() {
            let info = self.device.info();
            write!(f, " shape={} device={}/{:?}", self.shape, info.name, info.backend)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Tensor;

    #[test]
    fn prints_as_pytorch_does() {
        let f = Tensor::format_values;
        assert_eq!(f(&[1., 2., 3.], &[3]), "tensor([1., 2., 3.])");
        assert_eq!(f(&[10.], &[]), "tensor(10.)");
        assert_eq!(f(&[0.1, 0.25], &[2]), "tensor([0.1000, 0.2500])");
        assert_eq!(f(&[1., 2., 3., 4., 5., 6.], &[2, 3]), "tensor([[1., 2., 3.],\n        [4., 5., 6.]])");
        let three: Vec<f32> = (0..12).map(|v| v as f32).collect();
        assert_eq!(
            f(&three, &[2, 2, 3]),
            "tensor([[[ 0.,  1.,  2.],\n         [ 3.,  4.,  5.]],\n\n        [[ 6.,  7.,  8.],\n         [ 9., 10., 11.]]])"
        );
        assert_eq!(f(&[1e9, 1.0], &[2]), "tensor([1.0000e+09, 1.0000e+00])");
        let long: Vec<f32> = (0..2000).map(|v| v as f32).collect();
        assert_eq!(f(&long, &[2000]), "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.])");
    }

    #[test]
    fn prints_integers_and_wraps_long_rows_as_pytorch_does() {
        let f = Tensor::format_integers;
        assert_eq!(f(&[12, 9, 7, 15], &[4]), "tensor([12,  9,  7, 15])");
        assert_eq!(f(&[1, 2, 3, 4], &[2, 2]), "tensor([[1, 2],\n        [3, 4]])");
        // torch.arange(30): 18 values of width 2 fit a line after "tensor(".
        let wrapped = f(&(0..30).collect::<Vec<_>>(), &[30]);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert_eq!(lines[0], "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,");
        assert_eq!(lines[1], "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])");
    }
}
