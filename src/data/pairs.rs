//! Sentence pairs for translation, read as lab 11-5 reads them: each line stripped,
//! lower-cased and split at its tab into source and target; words split on single spaces
//! (punctuation stays on its word); each side's vocabulary `<SOS>` = 0, `<EOS>` = 1, then its
//! words in order of first appearance.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// Index of the start-of-sentence token.
pub const SOS: usize = 0;
/// Index of the end-of-sentence token.
pub const EOS: usize = 1;

/// One side's words by index.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocab {
    words: Vec<String>,
    index: HashMap<String, usize>,
}

impl Default for Vocab {
    fn default() -> Vocab {
        let words = vec!["<SOS>".to_string(), "<EOS>".to_string()];
        let index = words.iter().enumerate().map(|(i, w)| (w.clone(), i)).collect();
        Vocab { words, index }
    }
}

impl Vocab {
    /// Adds the words of `sentence` not yet known, in order.
    pub fn add(&mut self, sentence: &str) {
        for word in sentence.split(' ') {
            if !self.index.contains_key(word) {
                self.index.insert(word.to_string(), self.words.len());
                self.words.push(word.to_string());
            }
        }
    }

    /// Words, `<SOS>` and `<EOS>` included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether it holds no word (never: `<SOS>` and `<EOS>` are always there).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word of index `i`.
    pub fn word(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }

    /// The indices of `sentence`'s words, then `<EOS>`; an unknown word is an error.
    pub fn encode(&self, sentence: &str) -> Result<Vec<usize>> {
        let mut ids = Vec::new();
        for word in sentence.split(' ') {
            ids.push(*self.index.get(word).ok_or_else(|| Error::InvalidArgument {
                op: "vocab",
                message: format!("the word '{word}' of \"{sentence}\" is not in the vocabulary"),
            })?);
        }
        ids.push(EOS);
        Ok(ids)
    }
}

/// Sentence pairs and both sides' vocabularies.
#[derive(Clone, Debug, PartialEq)]
pub struct Pairs {
    /// (source, target), lower-cased.
    pub pairs: Vec<(String, String)>,
    /// The sources' words.
    pub source: Vocab,
    /// The targets' words.
    pub target: Vocab,
}

impl Pairs {
    /// Reads `lines` of `source<TAB>target` (`file` names them in errors), keeping the pairs
    /// with fewer than `max_source` and `max_target` words. Every line must have exactly one
    /// tab and text on both sides.
    pub fn read(file: &str, lines: &[&str], max_source: usize, max_target: usize) -> Result<(Pairs, usize)> {
        let mut all = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let line = line.trim().to_lowercase();
            let sides: Vec<&str> = line.split('\t').collect();
            let [source, target] = sides[..] else {
                return Err(Error::Io {
                    path: format!("{file}:{}", n + 1),
                    message: format!(
                        "a pair is two sentences separated by one tab; this line has {} tabs",
                        sides.len() - 1
                    ),
                });
            };
            if source.is_empty() || target.is_empty() {
                return Err(Error::Io {
                    path: format!("{file}:{}", n + 1),
                    message: "a side of the pair is empty".into(),
                });
            }
            all.push((source.to_string(), target.to_string()));
        }
        let read = all.len();
        let words = |s: &str| s.split(' ').count();
        all.retain(|(s, t)| words(s) < max_source && words(t) < max_target);
        let (mut source, mut target) = (Vocab::default(), Vocab::default());
        for (s, t) in &all {
            source.add(s);
            target.add(t);
        }
        Ok((Pairs { pairs: all, source, target }, read))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_in_order_of_first_appearance() {
        let lines = ["I feel hungry.\t나는 배가 고프다.", "  Pytorch is very easy.\t파이토치는 매우 쉽다. "];
        let (p, read) = Pairs::read("corpus", &lines, 10, 12).unwrap();
        assert_eq!(read, 2);
        assert_eq!(p.pairs[1], ("pytorch is very easy.".into(), "파이토치는 매우 쉽다.".into()));
        assert_eq!(p.source.len(), 2 + 7);
        assert_eq!(p.source.encode("pytorch is very easy.").unwrap(), [5, 6, 7, 8, EOS]);
        assert_eq!(p.target.word(4), Some("고프다."));
        let unknown = p.source.encode("pytorch is hard").unwrap_err().to_string();
        assert!(unknown.contains("'hard'"), "{unknown}");
    }

    #[test]
    fn long_pairs_are_dropped_and_bad_lines_named() {
        let (p, read) = Pairs::read("corpus", &["a b c\tx", "a\tx y"], 3, 3).unwrap();
        assert_eq!((read, p.pairs.len()), (2, 1));
        let err = Pairs::read("corpus.txt", &["a\tb", "no tab here"], 10, 10).unwrap_err().to_string();
        assert!(err.contains("corpus.txt:2") && err.contains("has 0 tabs"), "{err}");
        assert!(Pairs::read("c", &["a\t"], 10, 10).is_err());
    }
}
