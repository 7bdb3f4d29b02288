//! Elementwise ops.

/// The ops of the elementwise kernel; the discriminant is the shader's `OP` constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementwiseOp {
    /// a + b
    Add = 0,
    /// a − b
    Sub = 1,
    /// a · b
    Mul = 2,
    /// a / b
    Div = 3,
    /// alpha · a
    Scale = 4,
    /// max(a, 0)
    Relu = 5,
    /// a · `[b > 0]`
    ReluBackward = 6,
    /// a if a > 0, else alpha · a
    LeakyRelu = 7,
    /// the gradient a through a leaky relu whose input was b
    LeakyReluBackward = 8,
    /// 1 / (1 + e^−a)
    Sigmoid = 9,
    /// the gradient a through a sigmoid whose output was b
    SigmoidBackward = 10,
    /// tanh a
    Tanh = 11,
    /// the gradient a through a tanh whose output was b
    TanhBackward = 12,
    /// scale · (a if a > 0, else alpha (e^a − 1)), with SELU's constants
    Selu = 13,
    /// the gradient a through a selu whose input was b
    SeluBackward = 14,
    /// alpha + a
    AddScalar = 15,
    /// 1 / √a
    Rsqrt = 16,
    /// alpha · a · b³: the gradient a through rsqrt (alpha = −½), whose output was b
    RsqrtBackward = 17,
    /// a / (1 − alpha) where the element is kept, else 0 (drop probability alpha)
    Dropout = 18,
}

impl ElementwiseOp {
    /// The op's name in errors and reports.
    pub fn name(self) -> &'static str {
        match self {
            ElementwiseOp::Add => "add",
            ElementwiseOp::Sub => "sub",
            ElementwiseOp::Mul => "mul",
            ElementwiseOp::Div => "div",
            ElementwiseOp::Scale => "scale",
            ElementwiseOp::Relu => "relu",
            ElementwiseOp::ReluBackward => "relu_backward",
            ElementwiseOp::LeakyRelu => "leaky_relu",
            ElementwiseOp::LeakyReluBackward => "leaky_relu_backward",
            ElementwiseOp::Sigmoid => "sigmoid",
            ElementwiseOp::SigmoidBackward => "sigmoid_backward",
            ElementwiseOp::Tanh => "tanh",
            ElementwiseOp::TanhBackward => "tanh_backward",
            ElementwiseOp::Selu => "selu",
            ElementwiseOp::SeluBackward => "selu_backward",
            ElementwiseOp::AddScalar => "add_scalar",
            ElementwiseOp::Rsqrt => "rsqrt",
            ElementwiseOp::RsqrtBackward => "rsqrt_backward",
            ElementwiseOp::Dropout => "dropout",
        }
    }
}

/// SELU's α, as PyTorch defines it.
pub const SELU_ALPHA: f64 = 1.6732632423543772;
/// SELU's scale, as PyTorch defines it.
pub const SELU_SCALE: f64 = 1.0507009873554805;

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
