//! `shaders/elementwise.wgsl`: element-by-element ops with NumPy broadcasting.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid, words4};
use super::params::{ElementwiseParams, Params};
use crate::error::Result;
use crate::ir::ops::elementwise::ElementwiseOp;
use crate::ir::shape::Shape;

/// `shaders/elementwise.wgsl` and the activations' math with its `apply` function: a case per
/// op of the table, numbered as the ops' discriminants, so the shader's numbers cannot drift
/// from the Rust ones.
pub fn source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let cases = ElementwiseOp::ALL.iter().map(|&op| (op as u32, op));
        String::from(include_str!("../../../shaders/elementwise.wgsl"))
            + include_str!("../../../shaders/activations.wgsl")
            + &switch_function("fn apply(x: f32, y: f32, i: u32) -> f32", "OP", cases, "0.0")
    })
}

/// `shaders/activations.wgsl` with `fn activation(x: f32) -> f32`, a switch over the module's
/// override constant `ACTIVATION` with a case per activation of the table, numbered by
/// [`activation_code`] (0, no activation, returns x): for kernels that store an activation
/// of what they compute.
pub fn activation_source() -> String {
    let cases = ElementwiseOp::ALL.iter().filter(|op| op.is_activation()).map(|&op| (activation_code(Some(op)), op));
    String::from(include_str!("../../../shaders/activations.wgsl"))
        + &switch_function("fn activation(x: f32) -> f32", "ACTIVATION", cases, "x")
}

/// A WGSL function `signature` that returns the expression of the op whose number the
/// override constant `constant` holds, and `default` for any other number.
fn switch_function(
    signature: &str,
    constant: &str,
    cases: impl Iterator<Item = (u32, ElementwiseOp)>,
    default: &str,
) -> String {
    let mut s = format!("\n{signature} {{\n    switch {constant} {{\n");
    for (number, op) in cases {
        s.push_str(&format!("        case {number}u: {{ return {}; }}\n", op.wgsl()));
    }
    s + &format!("        default: {{ return {default}; }}\n    }}\n}}\n")
}

/// The `ACTIVATION` constant of [`activation_source`] for an activation, or for none.
pub fn activation_code(op: Option<ElementwiseOp>) -> u32 {
    op.map_or(0, |op| op as u32 + 1)
}

/// Workgroup size of the kernel.
const GROUP: u64 = 256;

/// `out = op(a, b)` with `a` and `b` broadcast to `out`; unary ops pass `a` as `b`. `seed`
/// is dropout's (0 for other ops), and `first` the index of `out`'s first element in the
/// whole tensor when the launch covers a chunk of it.
#[allow(clippy::too_many_arguments)]
pub fn launch(
    op: ElementwiseOp,
    alpha: f32,
    seed: u32,
    first: usize,
    a: &Shape,
    b: &Shape,
    out: &Shape,
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let n = out.numel();
    let params = Params::Elementwise(ElementwiseParams {
        shape: words4(out.padded4()),
        stride_a: words4(a.broadcast_strides4()),
        stride_b: words4(b.broadcast_strides4()),
        n: n as u32,
        alpha,
        seed,
        first: first as u32,
        ..Default::default()
    });
    Ok(Launch {
        key: KernelKey {
            family: Family::Elementwise,
            entry: "main",
            inputs: 2,
            outputs: 1,
            texture: TextureBinding::None,
            // Operands of the output's shape need no broadcast index.
            constants: vec![("OP", op as u32), ("DENSE", (a == out && b == out) as u32)],
        },
        params,
        groups: grid(op.name(), out, (n as u64).div_ceil(GROUP), limits)?,
    })
}
