//! The elementwise ops, each defined once in the table below: its name, its WGSL expression,
//! its f64 reference and derivative, how autodiff differentiates it, how the suite samples
//! its inputs, and (for activations) the graph, tensor and layer API it gets. The kernel's
//! dispatch, the reference, autodiff, the check cases, `Graph`/`Tensor` methods and
//! `nn::Layer` constants are all derived from it, so adding an op is one entry here (and a
//! WGSL helper in `shaders/activations.wgsl` where its expression needs one).
//!
//! In an entry, `x` is the first operand and `y` the second (unary ops read `x` as both); a
//! backward op reads the gradient it scales as `x` and, as `y`, the value its forward op saved.
//! `alpha` is the op's scalar (`p.alpha` in WGSL), `i` the element's index.

/// SELU's α, as PyTorch defines it.
pub const SELU_ALPHA: f64 = 1.6732632423543772;
/// SELU's scale, as PyTorch defines it.
pub const SELU_SCALE: f64 = 1.0507009873554805;
/// √(2/π), of GELU's tanh approximation.
const SQRT_2_OVER_PI: f64 = 0.7978845608028654;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_CUBIC: f64 = 0.044715;
/// 1 / √(2π), the standard normal density's peak.
const INV_SQRT_2PI: f64 = 0.3989422804014327;

/// How many operands an op reads, and what they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// One operand.
    Unary,
    /// Two operands, broadcast together.
    Binary,
    /// A gradient (`x`) scaled by a derivative computed from a saved value (`y`).
    Backward,
}

/// Which value of a forward op its backward op reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// The forward op's input.
    Input,
    /// The forward op's output (cheaper where the derivative is a function of it).
    Output,
}

/// How autodiff differentiates an op.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gradient {
    /// Autodiff's own rules for arithmetic (add, sub, mul, div, scale, add_scalar).
    Arithmetic,
    /// The gradient through `backward`, reading the saved value, at the forward op's alpha
    /// or at `alpha` where given.
    Through {
        /// The backward op.
        backward: ElementwiseOp,
        /// What it reads.
        saved: Saved,
        /// Its scalar, where not the forward op's.
        alpha: Option<f32>,
    },
    /// A backward op: linear in the gradient it scales; its saved value has no gradient.
    OfGradient,
    /// Dropout's: the same mask applied to the gradient.
    Dropout,
}

/// How the suite samples an op's inputs and scalar (ops without one are checked through the
/// cases of the ops they serve: binaries with broadcasting, backward ops through gradients).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The scalar is drawn uniformly from this range.
    pub alpha: [f64; 2],
    /// Inputs are made positive.
    pub positive: bool,
    /// Inputs, of magnitude 0.1 to 1, are multiplied by this.
    pub spread: f64,
}

impl Sample {
    /// Any input, no scalar.
    pub const ANY: Sample = Sample { alpha: [0.0, 0.0], positive: false, spread: 1.0 };
    /// Positive inputs, no scalar.
    pub const POSITIVE: Sample = Sample { alpha: [0.0, 0.0], positive: true, spread: 1.0 };

    /// Any input, the scalar drawn from [lo, hi).
    pub const fn alpha(lo: f64, hi: f64) -> Sample {
        Sample { alpha: [lo, hi], positive: false, spread: 1.0 }
    }

    /// Any input, of magnitude 0.1 · `spread` to `spread`.
    pub const fn wide(spread: f64) -> Sample {
        Sample { alpha: [0.0, 0.0], positive: false, spread }
    }
}

type Derivative = Option<fn(f64, f64, f64) -> (f64, f64)>;

/// Defines [`ElementwiseOp`] from the table, and `for_each_activation!`, which hands a
/// macro the API of every activation (`method`, `in_place_method`, `Variant`, `CONST`,
/// PyTorch's module name) so that graph, tensor and layer methods are derived too.
macro_rules! elementwise_ops {
    ($d:tt $(
        $(#[doc = $doc:literal])+
        $variant:ident {
            name: $name:literal,
            arity: $arity:ident,
            wgsl: $wgsl:literal,
            cpu: $cpu:expr,
            derivative: $derivative:expr,
            gradient: $gradient:expr,
            sample: $sample:expr
            $(, activation: ($method:ident, $in_place:ident, $constant:ident, $torch:literal))?
            $(,)?
        }
    )*) => {
        /// An elementwise op; its discriminant is the kernel's `OP` constant.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ElementwiseOp {
            $($(#[doc = $doc])+ $variant,)*
        }

        impl ElementwiseOp {
            /// Every op, in discriminant order.
            pub const ALL: &'static [ElementwiseOp] = &[$(ElementwiseOp::$variant),*];

            /// The op's name in errors, reports and check cases.
            pub fn name(self) -> &'static str {
                match self { $(ElementwiseOp::$variant => $name,)* }
            }

            /// How many operands it reads.
            pub fn arity(self) -> Arity {
                match self { $(ElementwiseOp::$variant => Arity::$arity,)* }
            }

            /// Its WGSL expression in `x`, `y`, `p.alpha` and `i`.
            pub fn wgsl(self) -> &'static str {
                match self { $(ElementwiseOp::$variant => $wgsl,)* }
            }

            /// The op on two values in f64 (NaN for dropout, whose mask needs the index:
            /// [`dropout_keeps`]).
            pub fn cpu(self, x: f64, y: f64, alpha: f64) -> f64 {
                match self { $(ElementwiseOp::$variant => ($cpu)(x, y, alpha),)* }
            }

            /// (∂/∂x, ∂/∂y) at (x, y). A backward op is linear in x and not differentiated
            /// in y.
            pub fn derivative(self, x: f64, y: f64, alpha: f64) -> (f64, f64) {
                let d: Derivative = match self { $(ElementwiseOp::$variant => $derivative,)* };
                match d {
                    Some(f) => f(x, y, alpha),
                    None => (self.cpu(1.0, y, alpha), 0.0),
                }
            }

            /// How autodiff differentiates it.
            pub fn gradient(self) -> Gradient {
                match self { $(ElementwiseOp::$variant => $gradient,)* }
            }

            /// How the suite samples it, if it has cases of its own.
            pub fn sample(self) -> Option<Sample> {
                match self { $(ElementwiseOp::$variant => $sample,)* }
            }

            /// PyTorch's module name, for activations (`ReLU`, `GELU`, …).
            pub fn torch_module(self) -> Option<&'static str> {
                match self { $(ElementwiseOp::$variant => None $(.or(Some($torch)))?,)* }
            }

            /// An activation: a unary op without a scalar that has a graph, tensor and layer
            /// API, and that a matrix product can apply to each value it stores.
            pub fn is_activation(self) -> bool {
                self.torch_module().is_some()
            }
        }

        /// Calls `$callback!` with `(method, in_place_method, Variant, CONST, "Torch")` for
        /// every activation of the table.
        macro_rules! for_each_activation {
            ($d callback:ident) => {
                $d callback! { $($(
                    ($method, $in_place, $variant, $constant, $torch),
                )?)* }
            };
        }
        pub(crate) use for_each_activation;
    };
}

elementwise_ops! { $
    /// a + b
    Add {
        name: "add", arity: Binary, wgsl: "x + y",
        cpu: |x: f64, y: f64, _| x + y,
        derivative: Some(|_, _, _| (1.0, 1.0)),
        gradient: Gradient::Arithmetic, sample: None,
    }
    /// a − b
    Sub {
        name: "sub", arity: Binary, wgsl: "x - y",
        cpu: |x: f64, y: f64, _| x - y,
        derivative: Some(|_, _, _| (1.0, -1.0)),
        gradient: Gradient::Arithmetic, sample: None,
    }
    /// a · b
    Mul {
        name: "mul", arity: Binary, wgsl: "x * y",
        cpu: |x: f64, y: f64, _| x * y,
        derivative: Some(|x, y, _| (y, x)),
        gradient: Gradient::Arithmetic, sample: None,
    }
    /// a / b
    Div {
        name: "div", arity: Binary, wgsl: "x / y",
        cpu: |x: f64, y: f64, _| x / y,
        derivative: Some(|x, y, _| (1.0 / y, -x / (y * y))),
        gradient: Gradient::Arithmetic, sample: None,
    }
    /// alpha · a
    Scale {
        name: "scale", arity: Unary, wgsl: "p.alpha * x",
        cpu: |x: f64, _, a: f64| a * x,
        derivative: Some(|_, _, a| (a, 0.0)),
        gradient: Gradient::Arithmetic, sample: Some(Sample::alpha(0.5, 1.5)),
    }
    /// alpha + a
    AddScalar {
        name: "add_scalar", arity: Unary, wgsl: "p.alpha + x",
        cpu: |x: f64, _, a: f64| a + x,
        derivative: Some(|_, _, _| (1.0, 0.0)),
        gradient: Gradient::Arithmetic, sample: Some(Sample::alpha(0.5, 1.5)),
    }
    /// max(a, 0)
    Relu {
        name: "relu", arity: Unary, wgsl: "max(x, 0.0)",
        cpu: |x: f64, _, _| x.max(0.0),
        derivative: Some(|x, _, _| (step(x), 0.0)),
        // From the output: the input can then die at the ReLU (or never be stored).
        gradient: Gradient::Through { backward: ElementwiseOp::ReluBackward, saved: Saved::Output, alpha: None },
        sample: Some(Sample::ANY),
        activation: (relu, relu_, RELU, "ReLU"),
    }
    /// a · `[b > 0]`: the gradient a through a ReLU whose input or output was b
    ReluBackward {
        name: "relu_backward", arity: Backward, wgsl: "select(0.0, x, y > 0.0)",
        cpu: |x: f64, y: f64, _| x * step(y),
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// a if a > 0, else alpha · a
    LeakyRelu {
        name: "leaky_relu", arity: Unary, wgsl: "select(p.alpha * x, x, x > 0.0)",
        cpu: |x: f64, _, a: f64| x * if x > 0.0 { 1.0 } else { a },
        derivative: Some(|x, _, a| (if x > 0.0 { 1.0 } else { a }, 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::LeakyReluBackward, saved: Saved::Input, alpha: None },
        sample: Some(Sample::alpha(0.01, 0.21)),
    }
    /// the gradient a through a leaky ReLU whose input was b
    LeakyReluBackward {
        name: "leaky_relu_backward", arity: Backward, wgsl: "select(p.alpha * x, x, y > 0.0)",
        cpu: |x: f64, y: f64, a: f64| x * if y > 0.0 { 1.0 } else { a },
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// 1 / (1 + e^−a)
    Sigmoid {
        name: "sigmoid", arity: Unary, wgsl: "sigmoid(x)",
        cpu: |x: f64, _, _| sigmoid(x),
        derivative: Some(|x, _, _| (sigmoid(x) * (1.0 - sigmoid(x)), 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::SigmoidBackward, saved: Saved::Output, alpha: None },
        sample: Some(Sample::ANY),
        activation: (sigmoid, sigmoid_, SIGMOID, "Sigmoid"),
    }
    /// the gradient a through a sigmoid whose output was b
    SigmoidBackward {
        name: "sigmoid_backward", arity: Backward, wgsl: "x * y * (1.0 - y)",
        cpu: |x: f64, y: f64, _| x * y * (1.0 - y),
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// tanh a
    Tanh {
        name: "tanh", arity: Unary, wgsl: "tanh(x)",
        cpu: |x: f64, _, _| x.tanh(),
        derivative: Some(|x, _, _| (1.0 - x.tanh().powi(2), 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::TanhBackward, saved: Saved::Output, alpha: None },
        sample: Some(Sample::ANY),
        activation: (tanh, tanh_, TANH, "Tanh"),
    }
    /// the gradient a through a tanh whose output was b
    TanhBackward {
        name: "tanh_backward", arity: Backward, wgsl: "x * (1.0 - y * y)",
        cpu: |x: f64, y: f64, _| x * (1.0 - y * y),
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// scale · (a if a > 0, else α (e^a − 1)), with PyTorch's SELU constants
    Selu {
        name: "selu", arity: Unary, wgsl: "SELU_SCALE * select(SELU_ALPHA * (exp(x) - 1.0), x, x > 0.0)",
        cpu: |x: f64, _, _| SELU_SCALE * if x > 0.0 { x } else { SELU_ALPHA * (x.exp() - 1.0) },
        derivative: Some(|x, _, _| (SELU_SCALE * if x > 0.0 { 1.0 } else { SELU_ALPHA * x.exp() }, 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::SeluBackward, saved: Saved::Input, alpha: None },
        sample: Some(Sample::ANY),
        activation: (selu, selu_, SELU, "SELU"),
    }
    /// the gradient a through a SELU whose input was b
    SeluBackward {
        name: "selu_backward", arity: Backward,
        wgsl: "x * SELU_SCALE * select(SELU_ALPHA * exp(y), 1.0, y > 0.0)",
        cpu: |x: f64, y: f64, _| x * SELU_SCALE * if y > 0.0 { 1.0 } else { SELU_ALPHA * y.exp() },
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// x · Φ(x), Φ the standard normal distribution function: PyTorch's exact GELU
    Gelu {
        name: "gelu", arity: Unary, wgsl: "x * normal_cdf(x)",
        cpu: |x: f64, _, _| x * normal_cdf(x),
        derivative: Some(|x, _, _| (normal_cdf(x) + x * normal_pdf(x), 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::GeluBackward, saved: Saved::Input, alpha: None },
        // Into both tails, where Φ is computed from erfc.
        sample: Some(Sample::wide(5.0)),
        activation: (gelu, gelu_, GELU, "GELU"),
    }
    /// the gradient a through an exact GELU whose input was b
    GeluBackward {
        name: "gelu_backward", arity: Backward,
        wgsl: "x * (normal_cdf(y) + y * exp_minus_half_square(abs(y), 0.0) * INV_SQRT_2PI)",
        cpu: |x: f64, y: f64, _| x * (normal_cdf(y) + y * normal_pdf(y)),
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))): PyTorch's GELU with `approximate="tanh"`
    GeluTanh {
        name: "gelu_tanh", arity: Unary,
        wgsl: "gelu_tanh(x)",
        cpu: |x: f64, _, _| 0.5 * x * (1.0 + gelu_tanh_inner(x).tanh()),
        derivative: Some(|x, _, _| (gelu_tanh_slope(x), 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::GeluTanhBackward, saved: Saved::Input, alpha: None },
        sample: Some(Sample::wide(5.0)),
        activation: (gelu_tanh, gelu_tanh_, GELU_TANH, "GELU(approximate='tanh')"),
    }
    /// the gradient a through a tanh-approximated GELU whose input was b
    GeluTanhBackward {
        name: "gelu_tanh_backward", arity: Backward, wgsl: "x * gelu_tanh_slope(y)",
        cpu: |x: f64, y: f64, _| x * gelu_tanh_slope(y),
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// 1 / √a
    Rsqrt {
        name: "rsqrt", arity: Unary, wgsl: "inverseSqrt(x)",
        cpu: |x: f64, _, _| 1.0 / x.sqrt(),
        derivative: Some(|x, _, _| (-0.5 * x.powf(-1.5), 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::RsqrtBackward, saved: Saved::Output, alpha: Some(-0.5) },
        sample: Some(Sample::POSITIVE),
    }
    /// alpha · a · b³: the gradient a through rsqrt (alpha = −½), whose output was b
    RsqrtBackward {
        name: "rsqrt_backward", arity: Backward, wgsl: "p.alpha * x * y * y * y",
        cpu: |x: f64, y: f64, a: f64| a * x * y * y * y,
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// √a
    Sqrt {
        name: "sqrt", arity: Unary, wgsl: "sqrt(x)",
        cpu: |x: f64, _, _| x.sqrt(),
        derivative: Some(|x, _, _| (0.5 / x.sqrt(), 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::SqrtBackward, saved: Saved::Output, alpha: None },
        sample: Some(Sample::POSITIVE),
    }
    /// a / (2b): the gradient a through a square root whose output was b
    SqrtBackward {
        name: "sqrt_backward", arity: Backward, wgsl: "0.5 * x / y",
        cpu: |x: f64, y: f64, _| 0.5 * x / y,
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// a clamped to [−alpha, alpha] (`torch.clamp(a, -alpha, alpha)`)
    Clip {
        name: "clip", arity: Unary, wgsl: "clamp(x, -p.alpha, p.alpha)",
        cpu: |x: f64, _, a: f64| x.clamp(-a, a),
        derivative: Some(|x, _, a| (if x.abs() <= a { 1.0 } else { 0.0 }, 0.0)),
        gradient: Gradient::Through { backward: ElementwiseOp::ClipBackward, saved: Saved::Input, alpha: None },
        sample: Some(Sample::alpha(0.3, 0.7)),
    }
    /// a where |b| ≤ alpha, else 0: the gradient a through a clip whose input was b (PyTorch
    /// passes it at the bounds too)
    ClipBackward {
        name: "clip_backward", arity: Backward, wgsl: "select(0.0, x, abs(y) <= p.alpha)",
        cpu: |x: f64, y: f64, a: f64| if y.abs() <= a { x } else { 0.0 },
        derivative: None, gradient: Gradient::OfGradient, sample: None,
    }
    /// a / (1 − alpha) where the element is kept, else 0 (drop probability alpha); also its
    /// own backward
    Dropout {
        name: "dropout", arity: Unary, wgsl: "select(0.0, x / (1.0 - p.alpha), keep(p.first + i))",
        // Not a function of (x, y) alone: its mask depends on the element's index.
        cpu: |_, _, _| f64::NAN,
        derivative: Some(|_, _, _| (f64::NAN, 0.0)),
        gradient: Gradient::Dropout, sample: None,
    }
}

fn step(v: f64) -> f64 {
    if v > 0.0 { 1.0 } else { 0.0 }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Φ(x) = ½ erfc(−x / √2).
fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() * INV_SQRT_2PI
}

fn gelu_tanh_inner(x: f64) -> f64 {
    SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)
}

/// d/dx of GELU's tanh approximation.
fn gelu_tanh_slope(x: f64) -> f64 {
    let t = gelu_tanh_inner(x).tanh();
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x)
}

/// Dropout's keep decision for element `index` at run `step`, as the shader makes it.
pub fn dropout_keeps(seed: u32, step: u32, index: u32, drop: f32) -> bool {
    let h = mix(index ^ mix(seed ^ mix(step)));
    (h >> 8) as f32 * (1.0 / 16_777_216.0) >= drop
}

fn mix(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}
