//! `shaders/conv2d_taps.wgsl`: a convolution of few taps computed directly, its entry point
//! written out per filter shape (see the shader's header for why).

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{Conv2dTapsParams, Params};
pub mod kernel;

pub use kernel::{MAX_LOADS, MAX_WEIGHTS, TapsKernel};

use crate::error::Result;
use crate::ir::ops::window::Window;
use crate::ir::shape::Shape;
use std::fmt::Write;

/// The WGSL of `kernel`: `shaders/conv2d_taps.wgsl` and the entry point written out for it.
pub fn source(kernel: &TapsKernel) -> String {
    let TapsKernel { out_channels: k, in_channels: c, kernel: [kh, kw], stride: [sh, sw], .. } = *kernel;
    let taps = kernel.taps();
    let weights = k * taps + if kernel.bias { k } else { 0 };
    let mut w = String::from(include_str!("../../../../shaders/conv2d_taps.wgsl"));
    let _ = writeln!(w, "\n// Generated for {kernel:?}.");
    let element = if kernel.vec4_stores { "vec4<f32>" } else { "f32" };
    let _ = writeln!(w, "@group(0) @binding(4) var<storage, read_write> out: array<{element}>;");
    let _ = writeln!(w, "var<workgroup> weights: array<f32, {weights}>;\n");
    w.push_str("@compute @workgroup_size(64)\nfn conv2d_taps(inv: Invocation) {\n    let lid = inv.local;\n");
    let _ = writeln!(w, "    for (var i = lid; i < {}u; i = i + LANES) {{ weights[i] = filters[i]; }}", k * taps);
    if kernel.bias {
        let _ =
            writeln!(w, "    for (var i = lid; i < {k}u; i = i + LANES) {{ weights[{}u + i] = bias[i]; }}", k * taps);
    }
    w.push_str(
        "    workgroupBarrier();\n    let lanes = p.n * p.oh * p.quads;\n    \
         let id = invocation_index(inv, LANES);\n    \
         let valid = id < lanes;\n    let at = min(id, lanes - 1u);\n    let row = at / p.quads;\n    \
         let oy = row % p.oh;\n    let n = row / p.oh;\n    let ox = 4u * (at % p.quads);\n",
    );
    let _ = writeln!(w, "    let iy0 = i32(oy * {sh}u) - i32(p.pad_h);\n    let ix0 = i32(ox * {sw}u) - i32(p.pad_w);");
    let columns = kernel.columns();
    for ci in 0..c {
        let _ = writeln!(w, "    let plane{ci} = (n * {c}u + {ci}u) * p.h * p.w;");
        for dy in 0..kh {
            for o in &columns {
                let _ = writeln!(w, "    let v{ci}_{dy}_{o} = x_at(plane{ci}, iy0 + {dy}, ix0 + {o});");
            }
        }
    }
    let _ = writeln!(w, "    let pixels = p.oh * p.ow;\n    let first = n * {k}u * pixels + oy * p.ow + ox;");
    for co in 0..k {
        match kernel.bias {
            true => {
                let _ = writeln!(w, "    var s{co} = vec4<f32>(weights[{}u]);", k * taps + co);
            }
            false => {
                let _ = writeln!(w, "    var s{co} = vec4<f32>(0.0);");
            }
        }
        for ci in 0..c {
            for dy in 0..kh {
                for dx in 0..kw {
                    let tap = co * taps + (ci * kh + dy) * kw + dx;
                    let v = |j: u32| format!("v{ci}_{dy}_{}", j * sw + dx);
                    let _ = writeln!(
                        w,
                        "    s{co} = fma(vec4<f32>(weights[{tap}u]), vec4<f32>({}, {}, {}, {}), s{co});",
                        v(0),
                        v(1),
                        v(2),
                        v(3)
                    );
                }
            }
        }
        if kernel.relu {
            let _ = writeln!(w, "    s{co} = max(s{co}, vec4<f32>(0.0));");
        }
        match kernel.vec4_stores {
            true => {
                let _ = writeln!(w, "    if (valid) {{ out[(first + {co}u * pixels) / 4u] = s{co}; }}");
            }
            false => {
                let _ = writeln!(w, "    if (valid) {{\n        let o{co} = first + {co}u * pixels;");
                let _ = writeln!(w, "        out[o{co}] = s{co}.x;");
                for (j, lane) in ["y", "z", "w"].into_iter().enumerate() {
                    let _ = writeln!(
                        w,
                        "        if (ox + {}u < p.ow) {{ out[o{co} + {}u] = s{co}.{lane}; }}",
                        j + 1,
                        j + 1
                    );
                }
                w.push_str("    }\n");
            }
        }
    }
    w.push_str("}\n");
    w
}

/// y `[N, K, OH, OW]` = conv2d(x, filters) (+ bias, then a ReLU) for x `[N, C, H, W]` and
/// `k` filters by the generated kernel; bindings: x, the filters `[K, C·KH·KW]`, the bias
/// (the filters again where there is none), y.
pub fn launch(x: &Shape, k: usize, window: &Window, bias: bool, relu: bool, limits: &wgpu::Limits) -> Result<Launch> {
    let xd = x.dims();
    let [oh, ow] = window.output("conv2d", x, xd[2], xd[3])?;
    let y = Shape::new(&[xd[0], k, oh, ow])?;
    let yd = y.dims();
    let kernel = TapsKernel { bias, relu, vec4_stores: yd[3].is_multiple_of(4), ..TapsKernel::new(k, xd[1], window) };
    let quads = yd[3].div_ceil(4);
    let lanes = (xd[0] * yd[2] * quads) as u64;
    let [n, c, h, w] = [xd[0], xd[1], xd[2], xd[3]].map(|v| v as u32);
    let [k, oh, ow] = [yd[1], yd[2], yd[3]].map(|v| v as u32);
    let [pad_h, pad_w] = window.padding.map(|v| v as u32);
    let params = Conv2dTapsParams { n, c, h, w, k, oh, ow, pad_h, pad_w, quads: quads as u32, ..Default::default() };
    Ok(Launch {
        key: KernelKey {
            family: Family::Conv2dTaps(kernel),
            entry: "conv2d_taps",
            inputs: 3,
            outputs: 1,
            texture: TextureBinding::None,
            constants: Vec::new(),
        },
        params: Params::Conv2dTaps(params),
        groups: grid("conv2d_taps", &y, lanes.div_ceil(64), limits)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(kernel: &TapsKernel) {
        let source = Family::Conv2dTaps(*kernel).source();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
    }

    #[test]
    fn generated_sources_validate_for_every_epilogue_and_store() {
        for bias in [false, true] {
            for relu in [false, true] {
                for vec4_stores in [false, true] {
                    validate(&TapsKernel { bias, relu, vec4_stores, ..TapsKernel::EXAMPLE });
                }
            }
        }
        validate(&TapsKernel { in_channels: 3, kernel: [2, 3], stride: [2, 3], ..TapsKernel::EXAMPLE });
    }

    #[test]
    fn first_layers_suit_and_wide_layers_do_not() {
        let window = |k: usize| Window { kernel: [k, k], stride: [1, 1], padding: [0, 0] };
        // The MNIST CNNs' first layer, LeNet's on colour photos (450 weights).
        assert!(TapsKernel::suits(32, 1, &window(3)));
        assert!(TapsKernel::suits(6, 3, &window(5)));
        // Their second layers: 18 432 and 2 400 weights.
        assert!(!TapsKernel::suits(64, 32, &window(3)));
        assert!(!TapsKernel::suits(16, 6, &window(5)));
        // Few weights, but 33 channels of 4 columns (×1 row) each: within the loads.
        assert!(TapsKernel::suits(9, 33, &window(1)));
        // One filter over 64 channels of 5×5: 2 560 loads an invocation.
        assert!(!TapsKernel::suits(1, 64, &window(5)));
    }

    #[test]
    fn each_input_value_is_loaded_once_for_the_four_pixels() {
        // A 3×3 window at stride 1 over four pixels reads six columns of each of three rows.
        let loads = source(&TapsKernel::EXAMPLE).matches("= x_at(").count();
        assert_eq!(loads, 18);
        let strided = TapsKernel { stride: [1, 2], ..TapsKernel::EXAMPLE };
        // Offsets {0, 2, 4, 6} + {0, 1, 2}: 0..=8, nine columns.
        assert_eq!(source(&strided).matches("= x_at(").count(), 27);
    }
}
