//! Mini-batches: per-epoch shuffles with a seed, and PyTorch's `drop_last`.

use crate::rng::Rng;

/// The order in which a data loader visits examples.
#[derive(Clone, Debug)]
pub struct Batches {
    len: usize,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    rng: Rng,
}

impl Batches {
    /// Batches of `batch_size` over `len` examples; `shuffle` draws a new order each epoch
    /// from `seed`; `drop_last` skips a final short batch.
    pub fn new(len: usize, batch_size: usize, shuffle: bool, drop_last: bool, seed: u64) -> Batches {
        Batches { len, batch_size: batch_size.max(1), shuffle, drop_last, rng: Rng::new(seed) }
    }

    /// Batches per epoch.
    pub fn per_epoch(&self) -> usize {
        if self.drop_last { self.len / self.batch_size } else { self.len.div_ceil(self.batch_size) }
    }

    /// The next epoch's batches, each a list of example indices.
    pub fn epoch(&mut self) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.len).collect();
        if self.shuffle {
            for i in (1..self.len).rev() {
                let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
        }
        let mut batches: Vec<Vec<usize>> = order.chunks(self.batch_size).map(|c| c.to_vec()).collect();
        if self.drop_last && batches.last().is_some_and(|b| b.len() < self.batch_size) {
            batches.pop();
        }
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_cover_every_example_once_and_reshuffle() {
        let mut b = Batches::new(10, 3, true, false, 7);
        let first = b.epoch();
        assert_eq!(first.len(), 4);
        let mut seen: Vec<usize> = first.concat();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_ne!(first, b.epoch(), "a new order each epoch");
        let mut again = Batches::new(10, 3, true, false, 7);
        assert_eq!(again.epoch(), first, "the same seed gives the same order");
    }

    #[test]
    fn drop_last_skips_the_short_batch() {
        let mut b = Batches::new(10, 3, false, true, 0);
        assert_eq!(b.per_epoch(), 3);
        assert_eq!(b.epoch(), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8]]);
    }
}
