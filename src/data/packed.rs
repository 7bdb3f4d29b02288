//! Sequences of several lengths in one padded batch, as PyTorch's `pack_padded_sequence`
//! describes them: the lengths, the mask a recurrent layer steps by
//! ([`crate::nn::Recurrent::forward_with_state`]), and PyTorch's packed layout (`batch_sizes`,
//! `sorted_indices`, the packed rows) for printing and for data that comes packed.

use crate::error::{Error, Result};

/// The lengths of a padded batch's sequences, each between 1 and the padded steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lengths {
    lengths: Vec<usize>,
    steps: usize,
}

impl Lengths {
    /// `lengths` of sequences padded to `steps`; a length of 0 or over `steps` is an error
    /// naming the sequence.
    pub fn new(lengths: &[usize], steps: usize) -> Result<Lengths> {
        let invalid = |message: String| Error::InvalidArgument { op: "lengths", message };
        if lengths.is_empty() {
            return Err(invalid("a batch needs at least one sequence".into()));
        }
        for (b, &l) in lengths.iter().enumerate() {
            if l == 0 {
                return Err(invalid(format!("sequence {b} has length 0: every sequence needs at least one step")));
            }
            if l > steps {
                return Err(invalid(format!(
                    "sequence {b} has length {l}, longer than the padded batch's {steps} steps"
                )));
            }
        }
        Ok(Lengths { lengths: lengths.to_vec(), steps })
    }

    /// The lengths of `sequences`, padded to the longest.
    pub fn of<T>(sequences: &[Vec<T>]) -> Result<Lengths> {
        let lengths: Vec<usize> = sequences.iter().map(Vec::len).collect();
        Lengths::new(&lengths, lengths.iter().copied().max().unwrap_or(0))
    }

    /// Each sequence's length.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// The padded steps, T.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// 1 where sequence b has step t, 0 at its padding: `[B, T, 1]` batch first, else
    /// `[T, B, 1]`.
    pub fn mask(&self, batch_first: bool) -> Vec<f32> {
        let (b_len, t_len) = (self.lengths.len(), self.steps);
        let at = |b: usize, t: usize| if t < self.lengths[b] { 1.0 } else { 0.0 };
        if batch_first {
            (0..b_len).flat_map(|b| (0..t_len).map(move |t| at(b, t))).collect()
        } else {
            (0..t_len).flat_map(|t| (0..b_len).map(move |b| at(b, t))).collect()
        }
    }

    /// The sequences longest first, equal lengths in their order (PyTorch's `sorted_indices`
    /// with `enforce_sorted=False`).
    pub fn sorted_indices(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.lengths.len()).collect();
        order.sort_by_key(|&b| std::cmp::Reverse(self.lengths[b]));
        order
    }

    /// How many sequences have step t, for every step some sequence has (`batch_sizes`).
    pub fn batch_sizes(&self) -> Vec<usize> {
        let longest = self.lengths.iter().copied().max().unwrap_or(0);
        (0..longest).map(|t| self.lengths.iter().filter(|&&l| l > t).count()).collect()
    }

    /// The packed rows of a padded batch `[B, T, width]` (batch first) or `[T, B, width]`: for
    /// each step, the rows of the sequences that have it, longest first (`PackedSequence.data`).
    pub fn pack<T: Copy>(&self, padded: &[T], width: usize, batch_first: bool) -> Result<Vec<T>> {
        let (b_len, t_len) = (self.lengths.len(), self.steps);
        if padded.len() != b_len * t_len * width {
            return Err(Error::InvalidArgument {
                op: "pack",
                message: format!(
                    "a padded batch of {b_len} sequences of {t_len} steps of {width} values holds {}, not {}",
                    b_len * t_len * width,
                    padded.len()
                ),
            });
        }
        let order = self.sorted_indices();
        let mut packed = Vec::new();
        for (t, &count) in self.batch_sizes().iter().enumerate() {
            for &b in &order[..count] {
                let row = if batch_first { b * t_len + t } else { t * b_len + b };
                packed.extend_from_slice(&padded[row * width..(row + 1) * width]);
            }
        }
        Ok(packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lab 11-6's words: lengths 11, 8, 11, 4, 13.
    fn lab() -> Lengths {
        Lengths::new(&[11, 8, 11, 4, 13], 13).unwrap()
    }

    #[test]
    fn packs_as_pytorch_does() {
        let l = lab();
        assert_eq!(l.sorted_indices(), [4, 0, 2, 1, 3]);
        assert_eq!(l.batch_sizes(), [5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 1, 1]);
        // Each value names its row (b, t): the packed order is t-major over the sorted rows.
        let padded: Vec<usize> = (0..5 * 13).collect();
        let packed = l.pack(&padded, 1, true).unwrap();
        assert_eq!(packed.len(), 47);
        assert_eq!(&packed[..6], &[4 * 13, 0, 2 * 13, 13, 3 * 13, 4 * 13 + 1]);
        assert_eq!(&packed[45..], &[4 * 13 + 11, 4 * 13 + 12]);
    }

    #[test]
    fn masks_in_either_layout() {
        let l = Lengths::new(&[2, 3], 3).unwrap();
        assert_eq!(l.mask(true), [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(l.mask(false), [1.0, 1.0, 1.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn bad_lengths_are_named_errors() {
        let zero = Lengths::new(&[3, 0], 3).unwrap_err().to_string();
        assert!(zero.contains("sequence 1 has length 0"), "{zero}");
        let long = Lengths::new(&[3, 5], 4).unwrap_err().to_string();
        assert!(long.contains("sequence 1 has length 5, longer than the padded batch's 4 steps"), "{long}");
        assert!(Lengths::new(&[], 4).is_err());
        let short = lab().pack(&[0.0f32; 10], 1, true).unwrap_err().to_string();
        assert!(short.contains("holds 65, not 10"), "{short}");
    }
}
