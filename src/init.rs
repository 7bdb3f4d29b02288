//! Initial values of parameters, drawn as PyTorch draws them.
//!
//! `torch.manual_seed(s)` seeds an MT19937 with `init_genrand(s)`; `uniform_` turns one 32-bit
//! word into `(u & 0xFFFFFF) · 2⁻²⁴ · (b − a) + a` in f32; `normal_` on 16 or more contiguous
//! floats fills uniforms and turns each 16 into normals by Box–Muller (`normal_fill`). With the
//! same seed and the same order of draws, shadergrad's initial weights equal PyTorch's.

/// How `uniform_(a, b)` turns its 24-bit fraction x into a value: PyTorch's CPU kernels
/// differ in the last bit for about half the elements (none where b − a is a power of two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UniformDraw {
    /// x·(b − a) + a with two roundings: torch's default CPU path, and the plain C of torch
    /// 1.0, which ran the course's notebooks. The default.
    #[default]
    Plain,
    /// One rounding, a fused multiply-add: torch 2.x on AVX2 and AVX-512 CPUs.
    Fused,
}

impl UniformDraw {
    /// Reads `plain` or `fused`.
    pub fn parse(text: &str) -> Option<UniformDraw> {
        match text {
            "plain" => Some(UniformDraw::Plain),
            "fused" => Some(UniformDraw::Fused),
            _ => None,
        }
    }
}

/// The Mersenne Twister MT19937, as PyTorch's CPU generator and NumPy's `RandomState` use it.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
    uniform: UniformDraw,
}

impl Mt19937 {
    /// `init_genrand(seed)`.
    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] = 1_812_433_253u32.wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624, uniform: UniformDraw::Plain }
    }

    /// `init_by_array(key)`: how Python's `random.seed(s)` and NumPy's `RandomState([s])` seed
    /// it (an int s ≥ 0 is its 32-bit words, least significant first; 0 is `[0]`).
    pub fn from_key(key: &[u32]) -> Mt19937 {
        let mut g = Mt19937::new(19_650_218);
        let mt = &mut g.state;
        let (n, len) = (624usize, key.len().max(1));
        let word = |j: usize| key.get(j).copied().unwrap_or(0);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..n.max(len) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525)).wrapping_add(word(j)).wrapping_add(j as u32);
            (i, j) = (i + 1, j + 1);
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..n - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        g
    }

    /// Python's `random.randrange(n)` (`_randbelow`): the top `n.bit_length()` bits of the
    /// next word, drawn again while they are n or more. `random.choice(seq)` is
    /// `seq[below(len(seq))]`.
    pub fn below(&mut self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        let bits = 32 - n.leading_zeros();
        loop {
            let r = self.next_u32() >> (32 - bits);
            if r < n {
                return r;
            }
        }
    }

    /// The same generator, drawing uniforms the `uniform` way.
    pub fn with_uniform(self, uniform: UniformDraw) -> Mt19937 {
        Mt19937 { uniform, ..self }
    }

    /// The next 32-bit word.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
                let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    next ^= 0x9908_b0df;
                }
                self.state[i] = next;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `uniform_(a, b)` of one element.
    pub fn uniform(&mut self, a: f32, b: f32) -> f32 {
        let u = (self.next_u32() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0);
        match self.uniform {
            UniformDraw::Plain => u * (b - a) + a,
            UniformDraw::Fused => u.mul_add(b - a, a),
        }
    }

    /// `randint(n)` of one element.
    pub fn randint(&mut self, n: u32) -> u32 {
        self.next_u32() % n
    }

    /// Skips `words` draws (another part of a lab that drew before the model).
    pub fn skip(&mut self, words: usize) {
        for _ in 0..words {
            self.next_u32();
        }
    }

    /// `normal_(mean, std)` of `n` elements. For `n ≥ 16` this is PyTorch's `normal_fill`:
    /// uniforms, then Box–Muller on each block of 16 (the last block overlapping). Smaller
    /// tensors use plain Box–Muller on pairs of uniforms, which PyTorch does differently.
    pub fn normal(&mut self, n: usize, mean: f32, std: f32) -> Vec<f32> {
        let mut data: Vec<f32> = (0..n).map(|_| self.uniform(0.0, 1.0)).collect();
        if n >= 16 {
            for start in (0..n - 15).step_by(16) {
                box_muller_16(&mut data[start..start + 16], mean, std);
            }
            if !n.is_multiple_of(16) {
                let start = n - 16;
                for v in &mut data[start..] {
                    *v = self.uniform(0.0, 1.0);
                }
                box_muller_16(&mut data[start..], mean, std);
            }
        } else {
            let mut k = 0;
            while k < n {
                let (u1, u2) = (1.0 - self.uniform(0.0, 1.0), self.uniform(0.0, 1.0));
                let r = (-2.0 * u1.ln()).sqrt();
                let theta = 2.0 * std::f32::consts::PI * u2;
                data[k] = r * theta.cos() * std + mean;
                if k + 1 < n {
                    data[k + 1] = r * theta.sin() * std + mean;
                }
                k += 2;
            }
        }
        data
    }
}

fn box_muller_16(data: &mut [f32], mean: f32, std: f32) {
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f32::consts::PI * u2;
        data[j] = radius * theta.cos() * std + mean;
        data[j + 8] = radius * theta.sin() * std + mean;
    }
}

/// How a weight is initialized ([`crate::nn::ModuleExt::initial_values`] says how biases
/// start).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Zeros (the course's hand-written low-level models).
    Zeros,
    /// PyTorch's default for Linear and Conv2d: weight and bias U(−1/√fan_in, 1/√fan_in).
    TorchDefault,
    /// N(0, std²).
    Normal(f32),
    /// U(a, b).
    Uniform(f32, f32),
    /// Glorot/Xavier uniform: U(±√(6 / (fan_in + fan_out))).
    XavierUniform,
    /// Glorot/Xavier normal: N(0, 2 / (fan_in + fan_out)).
    XavierNormal,
    /// He/Kaiming uniform for ReLU: U(±√(6 / fan_in)).
    HeUniform,
    /// He/Kaiming normal for ReLU: N(0, 2 / fan_in).
    HeNormal,
    /// He/Kaiming normal for ReLU over the fan out, as torchvision's ResNet and VGG start their
    /// convolutions (`kaiming_normal_(w, mode='fan_out')`): N(0, 2 / fan_out).
    HeNormalFanOut,
}

impl Init {
    /// Parses a `--init` value.
    pub fn parse(value: &str) -> Option<Init> {
        Some(match value {
            "zeros" => Init::Zeros,
            "torch" | "default" => Init::TorchDefault,
            "normal" => Init::Normal(1.0),
            "uniform" => Init::Uniform(-1.0, 1.0),
            "xavier" | "xavier-uniform" => Init::XavierUniform,
            "xavier-normal" => Init::XavierNormal,
            "he" | "he-uniform" | "kaiming" => Init::HeUniform,
            "he-normal" => Init::HeNormal,
            "he-normal-fan-out" => Init::HeNormalFanOut,
            _ => return None,
        })
    }

    /// The names `parse` accepts.
    pub const NAMES: &'static str =
        "zeros, torch, normal, uniform, xavier, xavier-normal, he, he-normal, he-normal-fan-out";

    /// Draws a weight of `n` elements with the given fans.
    pub fn weight(&self, rng: &mut Mt19937, n: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
        let uniform = |rng: &mut Mt19937, bound: f32| (0..n).map(|_| rng.uniform(-bound, bound)).collect();
        match *self {
            Init::Zeros => vec![0.0; n],
            Init::TorchDefault => uniform(rng, 1.0 / (fan_in as f32).sqrt()),
            Init::Normal(std) => rng.normal(n, 0.0, std),
            Init::Uniform(a, b) => (0..n).map(|_| rng.uniform(a, b)).collect(),
            Init::XavierUniform => uniform(rng, (6.0 / (fan_in + fan_out) as f32).sqrt()),
            Init::XavierNormal => rng.normal(n, 0.0, (2.0 / (fan_in + fan_out) as f32).sqrt()),
            Init::HeUniform => uniform(rng, (6.0 / fan_in as f32).sqrt()),
            Init::HeNormal => rng.normal(n, 0.0, (2.0 / fan_in as f32).sqrt()),
            Init::HeNormalFanOut => rng.normal(n, 0.0, (2.0 / fan_out as f32).sqrt()),
        }
    }

    /// Draws a bias of `n` elements: zeros under [`Init::Zeros`], else PyTorch's default
    /// U(−1/√fan_in, 1/√fan_in), which layers draw right after their weight.
    pub fn bias(&self, rng: &mut Mt19937, n: usize, fan_in: usize) -> Vec<f32> {
        match *self {
            Init::Zeros => vec![0.0; n],
            _ => {
                let bound = 1.0 / (fan_in as f32).sqrt();
                (0..n).map(|_| rng.uniform(-bound, bound)).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_sequence() {
        // The first outputs of init_genrand(5489), the reference implementation's default seed.
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.next_u32(), 3_499_211_612);
        assert_eq!(mt.next_u32(), 581_869_302);
        assert_eq!(mt.next_u32(), 3_890_346_734);
        // numpy.random.RandomState(1).bytes(12), an independent implementation.
        let mut mt = Mt19937::new(1);
        assert_eq!([mt.next_u32(), mt.next_u32(), mt.next_u32()], [1_791_095_845, 4_282_876_139, 3_093_770_124]);
    }

    #[test]
    fn seeded_by_key_it_is_pythons_random() {
        // random.seed(0); random.getrandbits(32) three times, then random.choice(range(4)).
        let mut mt = Mt19937::from_key(&[0]);
        assert_eq!([mt.next_u32(), mt.next_u32(), mt.next_u32()], [3_626_764_237, 1_654_615_998, 3_255_389_356]);
        let mut mt = Mt19937::from_key(&[0]);
        let choices: Vec<u32> = (0..12).map(|_| mt.below(4)).collect();
        assert_eq!(choices, [3, 3, 0, 2, 3, 3, 2, 3, 2, 1, 1, 2]);
        // random.seed(12345678901): a key of two words, least significant first.
        let mut mt = Mt19937::from_key(&[0xDFDC_1C35, 2]);
        assert_eq!([mt.next_u32(), mt.next_u32()], [4_063_089_813, 2_562_312_935]);
        let choices: Vec<u32> = (0..8).map(|_| mt.below(10)).collect();
        assert_eq!(choices, [5, 6, 5, 8, 1, 2, 5, 5]);
    }

    #[test]
    fn torch_default_reproduces_nn_linear_1_1_after_seed_1() {
        // torch.manual_seed(1); nn.Linear(1, 1) → weight 0.5153, bias −0.4414 (the course's lab 02).
        let mut mt = Mt19937::new(1);
        let w = Init::TorchDefault.weight(&mut mt, 1, 1, 1);
        let b = Init::TorchDefault.bias(&mut mt, 1, 1);
        assert_eq!((w[0], b[0]), (0.515_263_2, -0.441_378_24));
    }
}
