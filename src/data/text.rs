//! Character sequences as the RNN labs make them: each character one-hot over an alphabet,
//! and the target of each step the next character.

use crate::error::{Error, Result};
use crate::train::Data;

/// The index of every character of `text` in `alphabet`, or an error naming the first that
/// is not in it.
pub fn indices(text: &str, alphabet: &[char]) -> Result<Vec<usize>> {
    if alphabet.is_empty() {
        return Err(Error::InvalidArgument { op: "text", message: "the alphabet is empty".into() });
    }
    text.chars()
        .enumerate()
        .map(|(k, c)| {
            alphabet.iter().position(|&a| a == c).ok_or_else(|| Error::InvalidArgument {
                op: "text",
                message: format!("character {k} ({c:?}) of the text is not in the alphabet {alphabet:?}"),
            })
        })
        .collect()
}

/// Windows of `window` characters of `text` (the whole text but its last character when
/// `None`): window i is one-hot rows of characters i … i+window−1 `[window, V]`, its targets
/// the indices of characters i+1 … i+window, as lab 11-3 slides them.
pub fn windows(text: &str, alphabet: &[char], window: Option<usize>) -> Result<Data> {
    let idx = indices(text, alphabet)?;
    let window = window.unwrap_or(idx.len().saturating_sub(1));
    if window == 0 || idx.len() <= window {
        return Err(Error::InvalidArgument {
            op: "text",
            message: format!(
                "a text of {} characters is shorter than one window of {window} inputs and its next character",
                idx.len()
            ),
        });
    }
    let v = alphabet.len();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for start in 0..idx.len() - window {
        for &c in &idx[start..start + window] {
            x.extend((0..v).map(|j| if j == c { 1.0 } else { 0.0 }));
        }
        y.extend(idx[start + 1..=start + window].iter().map(|&c| c as f32));
    }
    Ok(Data { x, example: vec![window, v], y, target_width: window })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide_one_character_and_target_the_next() {
        let alphabet: Vec<char> = "hielo".chars().collect();
        let d = windows("hihello", &alphabet, None).unwrap();
        assert_eq!((d.example.clone(), d.target_width, d.len()), (vec![6, 5], 6, 1));
        assert_eq!(d.y, [1.0, 0.0, 2.0, 3.0, 3.0, 4.0]);
        assert_eq!(&d.x[..10], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        let d = windows("abcde", &['a', 'b', 'c', 'd', 'e'], Some(2)).unwrap();
        assert_eq!((d.len(), d.y.clone()), (3, vec![1.0, 2.0, 2.0, 3.0, 3.0, 4.0]));
    }

    #[test]
    fn bad_texts_are_named_errors() {
        let alphabet: Vec<char> = "ab".chars().collect();
        let e = windows("abx", &alphabet, None).unwrap_err().to_string();
        assert!(e.contains("character 2 ('x')"), "{e}");
        let e = windows("ab", &alphabet, Some(2)).unwrap_err().to_string();
        assert!(e.contains("shorter than one window of 2"), "{e}");
        assert!(windows("ab", &[], None).unwrap_err().to_string().contains("alphabet is empty"));
    }
}
