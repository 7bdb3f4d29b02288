//! A small seeded generator (SplitMix64) for test data, shuffles and initial weights.

/// SplitMix64: fast, seedable, and good enough for data order and test values.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from a seed; the same seed gives the same sequence everywhere.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [lo, hi].
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// A value with magnitude in [0.1, 1) and a random sign: never zero and never near a kink
    /// (ReLU at 0), so finite differences stay on one side of it.
    pub fn nonzero(&mut self) -> f64 {
        let magnitude = 0.1 + 0.9 * self.uniform();
        if self.next_u64() & 1 == 0 { magnitude } else { -magnitude }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_sequence() {
        // The first outputs for seed 20261127, as given in shared/data/mnist/README.md.
        let mut r = Rng::new(20261127);
        assert_eq!(r.next_u64(), 0x75006ac1fb878936);
        assert_eq!(r.next_u64(), 0xf1ed60d268891058);
        assert_eq!(r.next_u64(), 0x0b2025610462570a);
    }
}
