//! Values written as Python's `print` writes them, for labs whose printouts are Python's:
//! `repr` of floats and strings.

/// `repr(v)` of a Python float: the shortest digits that read back as `v`, positional for
/// decimal exponents −4 … 15 (`0.0012749`, `3.0`), else `1.5e-05`.
pub fn float_repr(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    // Rust's `{:e}` writes the shortest round-trip digits: `-1.2749e-3`.
    let scientific = format!("{v:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..16).contains(&exponent) {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

/// `repr(s)` of a Python string of printable characters: single-quoted, or double-quoted
/// where it holds a single quote and no double one.
pub fn str_repr(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\");
    if s.contains('\'') && !s.contains('"') {
        format!("\"{escaped}\"")
    } else {
        format!("'{}'", escaped.replace('\'', "\\'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_python_writes_them() {
        // Each as Python 3 prints it.
        let cases = [
            (0.22710399329662323, "0.22710399329662323"),
            (0.0012749056331813335, "0.0012749056331813335"),
            (1.5e-05, "1.5e-05"),
            (0.0001, "0.0001"),
            (3.0, "3.0"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (123456789012345.0, "123456789012345.0"),
            (0.0, "0.0"),
        ];
        for (v, want) in cases {
            assert_eq!(float_repr(v), want, "{v}");
        }
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a 'b' \"c\""), "'a \\'b\\' \"c\"'");
        assert_eq!(str_repr("나는"), "'나는'");
    }
}
