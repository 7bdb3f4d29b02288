//! The table of checked cases: for each op, how to build it in a graph and how the reference
//! computes it forward and backward, on random shapes that span several workgroups and on the
//! odd sizes (1, 7, 33, 257) that divide no workgroup size.

use crate::error::Result;
use crate::ir::batch_norm::BatchNormState;
use crate::ir::graph::{Graph, NodeId};
use crate::ir::ops::elementwise::{Arity, ElementwiseOp};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::window::Window;
use crate::reference::{Array, batch_norm, conv2d, elementwise as ew, layout, loss, matmul, pool2d, reduce, softmax};
use crate::rng::Rng;

type Build = Box<dyn Fn(&mut Graph, &[NodeId]) -> Result<NodeId>>;
type Forward = Box<dyn Fn(&[Array]) -> Array>;
type Backward = Box<dyn Fn(&[Array], &Array) -> Vec<Array>>;
/// Pushes the cases of one family, drawing from its own stream.
type Family = fn(&mut Rng, &mut Vec<Case>);

/// One checked op on concrete inputs.
pub struct Case {
    /// The op and variant.
    pub op: String,
    /// Its inputs (f32-representable values).
    pub inputs: Vec<Array>,
    /// The inputs whose gradients are checked (labels, for example, have none).
    pub wrt: Vec<usize>,
    /// Builds the op in a graph from input nodes.
    pub build: Build,
    /// Reference forward.
    pub forward: Forward,
    /// Reference gradients of the `wrt` inputs, in order, given the output's gradient.
    pub backward: Backward,
}

fn random(rng: &mut Rng, dims: &[usize]) -> Array {
    let n = dims.iter().product();
    Array::new(dims, (0..n).map(|_| rng.nonzero() as f32 as f64).collect())
}

/// op(a) · op(b), plain or batched (a rank-3 operand), with its gradients.
fn product_case(op: String, a: Array, b: Array, ta: bool, tb: bool) -> Case {
    let batched = a.dims.len() == 3 || b.dims.len() == 3;
    Case {
        op,
        inputs: vec![a, b],
        wrt: vec![0, 1],
        build: Box::new(move |g, x| g.matmul_t(x[0], x[1], ta, tb)),
        forward: Box::new(move |x| {
            if batched { matmul::batched_matmul(&x[0], &x[1], ta, tb) } else { matmul::matmul(&x[0], &x[1], ta, tb) }
        }),
        backward: Box::new(move |x, g| {
            let (da, db) = if batched {
                matmul::batched_matmul_backward(&x[0], &x[1], ta, tb, g)
            } else {
                matmul::matmul_backward(&x[0], &x[1], ta, tb, g)
            };
            vec![da, db]
        }),
    }
}

/// A batch of products of a shared [m, k] matrix with [k, n] ones, summed over the batch (the
/// plan fuses it into partial sums on software adapters).
fn batch_sum_case(rng: &mut Rng, op: &str, [m, k, n]: [usize; 3], batch: usize) -> Case {
    Case {
        op: op.into(),
        inputs: vec![random(rng, &[m, k]), random(rng, &[batch, k, n])],
        wrt: vec![0, 1],
        build: Box::new(move |g, x| {
            let y = g.matmul(x[0], x[1])?;
            g.sum_to(y, &[m, n], 1.0)
        }),
        forward: Box::new(move |x| reduce::sum_to(&matmul::batched_matmul(&x[0], &x[1], false, false), &[m, n], 1.0)),
        backward: Box::new(move |x, g| {
            let g = reduce::expand(g, &[batch, m, n], 1.0);
            let (da, db) = matmul::batched_matmul_backward(&x[0], &x[1], false, false, &g);
            vec![da, db]
        }),
    }
}

fn matmul_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let random_mkn = [rng.range(33, 100), rng.range(33, 100), rng.range(33, 100)];
    // The last spans several of the large register blocks' 256×128 tiles both ways (and is
    // large enough to use them on software adapters).
    let large = [rng.range(520, 600), rng.range(64, 80), rng.range(260, 300)];
    // Few rows and many columns: the wide blocks' 64×128 tiles, two down and several across.
    let wide = [rng.range(70, 128), rng.range(64, 80), rng.range(260, 300)];
    let sizes = [[1, 7, 33], [33, 257, 7], [7, 1, 257], random_mkn, large, wide];
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        for [m, k, n] in sizes {
            let a = random(rng, &if ta { [k, m] } else { [m, k] });
            let b = random(rng, &if tb { [n, k] } else { [k, n] });
            let name = format!("matmul_{}{}", if ta { 't' } else { 'n' }, if tb { 't' } else { 'n' });
            cases.push(product_case(name, a, b, ta, tb));
        }
    }
}

/// Products whose extents and strides all come in fours: on software adapters they read
/// their operands from textures (`MatmulVariant::Textured`), every storage layout of A and
/// B, every block shape, batched either side, summed over the batch, with a bias; the
/// odd-sized cases above cover the storage-reading kernels.
fn matmul_in_fours_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let fours = |rng: &mut Rng, lo: usize, hi: usize| 4 * rng.range(lo, hi);
    // [m, k, n]: several 64×64 tiles; the large blocks' 256×128 tiles; the wide blocks'.
    let sizes = [
        [fours(rng, 9, 30), fours(rng, 3, 20), fours(rng, 17, 40)],
        [fours(rng, 65, 72), fours(rng, 16, 19), fours(rng, 33, 45)],
        [fours(rng, 17, 32), fours(rng, 16, 20), fours(rng, 33, 50)],
    ];
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        for [m, k, n] in sizes {
            let a = random(rng, &if ta { [k, m] } else { [m, k] });
            let b = random(rng, &if tb { [n, k] } else { [k, n] });
            let name = format!("matmul4_{}{}", if ta { 't' } else { 'n' }, if tb { 't' } else { 'n' });
            cases.push(product_case(name, a, b, ta, tb));
        }
    }
    // B nearly the 896 KiB a textured launch copies at most: the product runs as bands of
    // A's rows (and its input gradient, B transposed, too).
    let (m, k, n) = (fours(rng, 13, 16), 512, fours(rng, 98, 100));
    let (a, b) = (random(rng, &[m, k]), random(rng, &[k, n]));
    cases.push(product_case("matmul4_bands".into(), a, b, false, false));
    let batch = rng.range(3, 6);
    let (m, k, n) = (fours(rng, 5, 20), fours(rng, 3, 12), fours(rng, 10, 40));
    let configs: [(Vec<usize>, Vec<usize>, bool, bool); 4] = [
        (vec![batch, m, k], vec![batch, k, n], false, false),
        (vec![m, k], vec![batch, n, k], false, true),
        (vec![batch, k, m], vec![k, n], true, false),
        (vec![batch, k, m], vec![batch, n, k], true, true),
    ];
    for (da, db, ta, tb) in configs {
        let (a, b) = (random(rng, &da), random(rng, &db));
        cases.push(product_case("matmul4_batched".into(), a, b, ta, tb));
    }
    // A convolution's product and bias per row of each image's output, and a linear layer's.
    for (da, db, dbias) in [(vec![m, k], vec![batch, k, n], vec![1, m, 1]), (vec![n, k], vec![k, m], vec![m])] {
        cases.push(Case {
            op: "matmul4_bias".into(),
            inputs: vec![random(rng, &da), random(rng, &db), random(rng, &dbias)],
            wrt: vec![0, 1, 2],
            build: Box::new(move |g, x| {
                let y = g.matmul(x[0], x[1])?;
                g.add(y, x[2])
            }),
            forward: Box::new(move |x| {
                ew::binary(ElementwiseOp::Add, 0.0, &matmul::batched_matmul(&x[0], &x[1], false, false), &x[2])
            }),
            backward: Box::new(move |x, g| {
                let (da, db) = matmul::batched_matmul_backward(&x[0], &x[1], false, false, g);
                vec![da, db, reduce::sum_to(g, &x[2].dims, 1.0)]
            }),
        });
    }
    // Batch entries of about 300 KB: a textured launch copies three or so, so the product
    // runs as several launches, and each partial sum of its batch sum over several that add.
    // (Few rows: the suite also runs with 8 workgroups per dimension, at most 512 in all.)
    let (m, k, n, batch) = (fours(rng, 1, 2), 64, fours(rng, 290, 300), 8);
    let (a, b) = (random(rng, &[m, k]), random(rng, &[batch, k, n]));
    cases.push(product_case("matmul4_launches".into(), a, b, false, false));
    cases.push(batch_sum_case(rng, "matmul4_batch_sum", [m, k, n], batch));
    let (m, k, n, batch) = (fours(rng, 20, 25), fours(rng, 2, 10), fours(rng, 33, 40), rng.range(7, 8));
    cases.push(batch_sum_case(rng, "matmul4_batch_sum", [m, k, n], batch));
}

fn batched_matmul_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let batch = rng.range(3, 6);
    // (a dims, b dims, trans_a, trans_b): both batched, a shared (as convolution filters are),
    // b shared, and transposed forms.
    let configs: [(Vec<usize>, Vec<usize>, bool, bool); 5] = [
        (vec![batch, 33, 7], vec![batch, 7, 65], false, false),
        (vec![9, 37], vec![batch, 37, 70], false, false),
        (vec![batch, 70, 9], vec![37, 9], false, true),
        (vec![37, 9], vec![batch, 37, 70], true, false),
        (vec![batch, 65, 33], vec![batch, 7, 65], true, true),
    ];
    for (da, db, ta, tb) in configs {
        let (a, b) = (random(rng, &da), random(rng, &db));
        cases.push(product_case("matmul_batched".into(), a, b, ta, tb));
    }
}

/// The products the plan compiler fuses: a product with a bias per row or per column after
/// it (one kernel; batched, as convolutions have it), and a batch of products with a shared
/// matrix summed over the batch (partial sums on software adapters).
fn fused_matmul_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let batch = rng.range(3, 6);
    // (a dims, b dims, trans_b, bias dims broadcast over the product)
    let configs = [
        (vec![rng.range(33, 100), 37], vec![65, 37], true, vec![65]),
        (vec![9, 37], vec![batch, 37, 70], false, vec![1, 9, 1]),
        (vec![70, 9], vec![9, 300], false, vec![70, 1]),
    ];
    for (da, db, tb, dbias) in configs {
        cases.push(Case {
            op: "matmul_bias".into(),
            inputs: vec![random(rng, &da), random(rng, &db), random(rng, &dbias)],
            wrt: vec![0, 1, 2],
            build: Box::new(move |g, x| {
                let y = g.matmul_t(x[0], x[1], false, tb)?;
                g.add(y, x[2])
            }),
            forward: Box::new(move |x| {
                ew::binary(ElementwiseOp::Add, 0.0, &matmul::batched_matmul(&x[0], &x[1], false, tb), &x[2])
            }),
            backward: Box::new(move |x, g| {
                let (da, db) = matmul::batched_matmul_backward(&x[0], &x[1], false, tb, g);
                vec![da, db, reduce::sum_to(g, &x[2].dims, 1.0)]
            }),
        });
    }
    // Products of several tiles, so that a few partial sums keep a software adapter busy
    // (fewer than the entries: the fusion applies); at most 8 entries of at most 115 × 140, as
    // the suite also runs under a cap of 8 workgroups per dimension, 512 in all, and the
    // gradient broadcast over the batch is one elementwise launch of 256 elements a group.
    let (m, k, n) = (rng.range(100, 115), rng.range(7, 40), rng.range(130, 140));
    let batch = rng.range(7, 8);
    cases.push(batch_sum_case(rng, "matmul_batch_sum", [m, k, n], batch));
}

/// A linear layer with each activation of the table after it, which the plan compiler runs
/// as one product storing the activation of its biased output; each case from a stream
/// seeded by its name.
fn fused_activation_cases(seed: u64, cases: &mut Vec<Case>) {
    for &op in ElementwiseOp::ALL.iter().filter(|op| op.is_activation()) {
        let name = format!("matmul_bias_{}", op.name());
        let rng = &mut named_rng(seed, &name);
        let (rows, width, outputs) = (rng.range(33, 100), rng.range(9, 40), rng.range(33, 70));
        let inputs = vec![random(rng, &[rows, width]), random(rng, &[outputs, width]), random(rng, &[outputs])];
        let biased =
            |x: &[Array]| ew::binary(ElementwiseOp::Add, 0.0, &matmul::matmul(&x[0], &x[1], false, true), &x[2]);
        cases.push(Case {
            op: name,
            inputs,
            wrt: vec![0, 1, 2],
            build: Box::new(move |g, x| {
                let y = g.matmul_t(x[0], x[1], false, true)?;
                let biased = g.add(y, x[2])?;
                g.unary(op, 0.0, biased)
            }),
            forward: Box::new(move |x| ew::unary(op, 0.0, &biased(x))),
            backward: Box::new(move |x, g| {
                let pre = biased(x);
                let d_pre = ew::binary_backward(op, 0.0, &pre, &pre, g).0;
                let (da, db) = matmul::matmul_backward(&x[0], &x[1], false, true, &d_pre);
                vec![da, db, reduce::sum_to(&d_pre, &x[2].dims, 1.0)]
            }),
        });
    }
}

fn binary_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let r = rng.range(300, 700);
    let pairs: [(&str, &[usize], &[usize]); 5] = [
        ("same", &[33, r / 33 + 1], &[33, r / 33 + 1]),
        ("bias", &[257, 7], &[7]),
        ("bias_nchw", &[3, 7, 9, 11], &[1, 7, 1, 1]),
        ("outer", &[33, 1], &[1, 65]),
        ("scalar", &[7, 257], &[1]),
    ];
    for op in [ElementwiseOp::Add, ElementwiseOp::Sub, ElementwiseOp::Mul, ElementwiseOp::Div] {
        for (variant, da, db) in pairs {
            if op != ElementwiseOp::Add && matches!(variant, "bias_nchw" | "scalar") {
                continue;
            }
            let (a, b) = (random(rng, da), random(rng, db));
            cases.push(Case {
                op: format!("{}_{variant}", op.name()),
                inputs: vec![a, b],
                wrt: vec![0, 1],
                build: Box::new(move |g, x| match op {
                    ElementwiseOp::Add => g.add(x[0], x[1]),
                    ElementwiseOp::Sub => g.sub(x[0], x[1]),
                    ElementwiseOp::Mul => g.mul(x[0], x[1]),
                    _ => g.div(x[0], x[1]),
                }),
                forward: Box::new(move |x| ew::binary(op, 0.0, &x[0], &x[1])),
                backward: Box::new(move |x, g| {
                    let (da, db) = ew::binary_backward(op, 0.0, &x[0], &x[1], g);
                    vec![da, db]
                }),
            });
        }
    }
}

/// Every unary op of the elementwise table that samples cases of its own, each from a stream
/// seeded by its name.
fn unary_cases(seed: u64, cases: &mut Vec<Case>) {
    let shapes: [&[usize]; 3] = [&[1], &[257, 7], &[2, 3, 33, 7]];
    for &op in ElementwiseOp::ALL {
        let (Arity::Unary, Some(sample)) = (op.arity(), op.sample()) else { continue };
        let rng = &mut named_rng(seed, op.name());
        let [lo, hi] = sample.alpha;
        let a = (lo + (hi - lo) * rng.uniform()) as f32;
        for dims in shapes {
            let mut x = random(rng, dims);
            x.data.iter_mut().for_each(|v| {
                let v_abs = if sample.positive { v.abs() } else { *v };
                *v = (v_abs * sample.spread) as f32 as f64;
            });
            cases.push(Case {
                op: op.name().to_string(),
                inputs: vec![x],
                wrt: vec![0],
                build: Box::new(move |g, x| g.unary(op, a, x[0])),
                forward: Box::new(move |x| ew::unary(op, a as f64, &x[0])),
                backward: Box::new(move |x, g| vec![ew::binary_backward(op, a as f64, &x[0], &x[0], g).0]),
            });
        }
    }
}

fn dropout_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    for (p, dims) in [(0.3f32, &[257, 7][..]), (0.5, &[2, 3, 33, 7]), (0.1, &[1])] {
        let seed = rng.next_u64() as u32;
        cases.push(Case {
            op: "dropout".into(),
            inputs: vec![random(rng, dims)],
            wrt: vec![0],
            build: Box::new(move |g, x| g.dropout(x[0], p, seed)),
            // A check plan runs once: run number 0.
            forward: Box::new(move |x| ew::dropout(&x[0], p, seed, 0)),
            backward: Box::new(move |_, g| vec![ew::dropout(g, p, seed, 0)]),
        });
    }
}

fn reduce_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    // (dims, axes) — long reductions take a workgroup per output (or, for column sums, per 32
    // outputs), short ones the serial kernel.
    let long = rng.range(200, 400);
    // The last but one: a bias's gradient over a batch of images, with runs of the innermost
    // reduced axis enough for every invocation of a workgroup (walked by stride). Long sums
    // that keep the innermost axis (column sums) take the column kernel: [long, 33] and
    // [5, 131, 40], whose slices of the reduced elements start inside runs.
    let shapes: [(&[usize], &[usize]); 7] = [
        (&[7, 257], &[0, 1]),
        (&[long, 33], &[0]),
        (&[5, 131, 40], &[0, 1]),
        (&[33, 7], &[1]),
        (&[3, 7, 9, 11], &[0, 2, 3]),
        (&[23, 3, 17, 13], &[0, 2, 3]),
        (&[1], &[0]),
    ];
    for mean in [false, true] {
        for (dims, axes) in shapes {
            let count: usize = axes.iter().map(|&a| dims[a]).product();
            let factor = if mean { 1.0 / count as f32 } else { 1.0 } as f64;
            let kept = reduce::kept_dims(dims, axes);
            let squeezed: Vec<usize> = (0..dims.len()).filter(|d| !axes.contains(d)).map(|d| dims[d]).collect();
            let axes_i: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            let in_dims = dims.to_vec();
            let (kept_f, kept_b, squeezed_f) = (kept.clone(), kept, squeezed);
            cases.push(Case {
                op: format!("{}_axes{axes:?}", if mean { "mean" } else { "sum" }).replace(' ', ""),
                inputs: vec![random(rng, dims)],
                wrt: vec![0],
                build: Box::new(move |g, x| {
                    if mean { g.mean_axes(x[0], &axes_i, false) } else { g.sum_axes(x[0], &axes_i, false) }
                }),
                forward: Box::new(move |x| {
                    let r = reduce::sum_to(&x[0], &kept_f, factor);
                    Array::new(&squeezed_f, r.data)
                }),
                backward: Box::new(move |_, g| {
                    let g = Array::new(&kept_b, g.data.clone());
                    vec![reduce::expand(&g, &in_dims, factor)]
                }),
            });
        }
    }
}

fn max_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let long = rng.range(200, 400);
    let shapes: [(&[usize], &[usize]); 7] = [
        (&[7, 257], &[0, 1]),
        (&[long, 33], &[0]),
        (&[5, 131, 40], &[0, 1]),
        (&[33, 7], &[1]),
        (&[3, 7, 9, 11], &[2, 3]),
        (&[3, 300, 5, 7], &[1, 3]),
        (&[1], &[0]),
    ];
    for argmax in [false, true] {
        for (dims, axes) in shapes {
            let kept = reduce::kept_dims(dims, axes);
            let squeezed: Vec<usize> = (0..dims.len()).filter(|d| !axes.contains(d)).map(|d| dims[d]).collect();
            let axes_i: Vec<isize> = axes.iter().map(|&a| a as isize - dims.len() as isize).collect();
            cases.push(Case {
                op: format!("{}_axes{axes:?}", if argmax { "argmax" } else { "max" }).replace(' ', ""),
                inputs: vec![random(rng, dims)],
                wrt: vec![],
                build: Box::new(move |g, x| {
                    if argmax { g.argmax_axes(x[0], &axes_i, false) } else { g.max_axes(x[0], &axes_i, false) }
                }),
                forward: Box::new(move |x| Array::new(&squeezed, reduce::max_to(&x[0], &kept, argmax).data)),
                backward: Box::new(|_, _| vec![]),
            });
        }
    }
}

/// Input dims, filter (or window) dims, stride, padding.
type WindowConfig = ([usize; 4], [usize; 4], [usize; 2], [usize; 2]);

fn conv2d_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    // (x dims, w dims, stride, padding): the course's 3×3 same-padding convs (and a 3×3 at
    // stride 1 with other padding: its im2col slides a window), LeNet's 5×5 valid ones,
    // strided and rectangular windows, and a 1×1.
    let h = rng.range(9, 15);
    let configs: [WindowConfig; 7] = [
        ([2, 1, 28, 28], [7, 1, 3, 3], [1, 1], [1, 1]),
        ([3, 5, h, h + 2], [6, 5, 3, 3], [1, 1], [1, 1]),
        ([2, 3, 8, h], [4, 3, 3, 3], [1, 1], [0, 2]),
        ([2, 3, 13, 11], [5, 3, 5, 5], [1, 1], [0, 0]),
        ([2, 4, 9, 10], [3, 4, 3, 2], [2, 3], [1, 0]),
        ([1, 33, 7, 7], [9, 33, 1, 1], [1, 1], [0, 0]),
        ([3, 2, 8, 8], [4, 2, 4, 4], [2, 2], [2, 1]),
    ];
    for ((xd, wd, stride, padding), direct) in configs.into_iter().flat_map(|c| [(c, false), (c, true)]) {
        cases.push(Case {
            op: if direct { "conv2d_direct" } else { "conv2d" }.into(),
            inputs: vec![random(rng, &xd), random(rng, &wd)],
            wrt: vec![0, 1],
            build: Box::new(move |g, x| {
                if direct {
                    g.conv2d_direct(x[0], x[1], stride, padding)
                } else {
                    g.conv2d(x[0], x[1], stride, padding)
                }
            }),
            forward: Box::new(move |x| conv2d::conv2d(&x[0], &x[1], stride, padding)),
            backward: Box::new(move |x, g| {
                let (dx, dw) = conv2d::conv2d_backward(&x[0], &x[1], stride, padding, g);
                vec![dx, dw]
            }),
        });
    }
}

/// The course's convolution block, conv → bias → ReLU → 2×2 max pool, whose forward pass the
/// plan compiler runs as one product with bias and ReLU (or, for few weights on software
/// adapters, as one direct convolution), and whose pooling and ReLU gradients as one pass:
/// checked whole against the references chained. Two blocks: a first layer of few channels,
/// and one with more weights than the direct kernel takes.
fn conv_block_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let first = (rng.range(2, 5), rng.range(5, 9));
    let wide = (rng.range(24, 28), rng.range(12, 16));
    for (c, k) in [first, wide] {
        conv_block_case(rng, c, k, cases);
    }
}

fn conv_block_case(rng: &mut Rng, c: usize, k: usize, cases: &mut Vec<Case>) {
    let (n, h) = (rng.range(2, 4), 2 * rng.range(4, 7));
    let win = Window { kernel: [2, 2], stride: [2, 2], padding: [0, 0] };
    let activations = move |x: &[Array]| {
        let conv = conv2d::conv2d(&x[0], &x[1], [1, 1], [1, 1]);
        let biased = ew::binary(ElementwiseOp::Add, 0.0, &conv, &x[2]);
        ew::unary(ElementwiseOp::Relu, 0.0, &biased)
    };
    cases.push(Case {
        op: "conv_block".into(),
        inputs: vec![random(rng, &[n, c, h, h]), random(rng, &[k, c, 3, 3]), random(rng, &[1, k, 1, 1])],
        wrt: vec![0, 1, 2],
        build: Box::new(move |g, x| {
            let conv = g.conv2d(x[0], x[1], [1, 1], [1, 1])?;
            let biased = g.add(conv, x[2])?;
            let relu = g.relu(biased)?;
            g.max_pool2d(relu, win.kernel, win.stride, win.padding)
        }),
        forward: Box::new(move |x| pool2d::pool2d(true, &activations(x), &win)),
        backward: Box::new(move |x, g| {
            let relu = activations(x);
            let d_relu = pool2d::pool2d_backward(true, &relu, &win, g);
            let d_biased = ew::binary(ElementwiseOp::ReluBackward, 0.0, &d_relu, &relu);
            let (dx, dw) = conv2d::conv2d_backward(&x[0], &x[1], [1, 1], [1, 1], &d_biased);
            vec![dx, dw, reduce::sum_to(&d_biased, &x[2].dims, 1.0)]
        }),
    });
}

fn pool2d_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let h = rng.range(9, 16);
    // The course's 2×2 pools (10-2's with padding 1 on 7×7), overlapping 3×3/2, rectangular.
    let configs: [WindowConfig; 7] = [
        ([2, 3, 28, 28], [0, 0, 2, 2], [2, 2], [0, 0]),
        // Windows that tile the input but leave its last row and column out.
        ([3, 2, 7, 9], [0, 0, 2, 3], [2, 3], [0, 1]),
        ([3, 4, 7, 7], [0, 0, 2, 2], [2, 2], [1, 1]),
        ([2, 5, h, h + 1], [0, 0, 3, 3], [2, 2], [1, 1]),
        ([1, 33, 9, 8], [0, 0, 3, 2], [1, 2], [0, 1]),
        ([257, 1, 2, 2], [0, 0, 2, 2], [2, 2], [0, 0]),
        // 2×2 at stride 2 on odd sizes: the last row and column in no window.
        ([2, 3, 7, 9], [0, 0, 2, 2], [2, 2], [0, 0]),
    ];
    for max in [true, false] {
        for (xd, [_, _, kh, kw], stride, padding) in configs {
            let win = Window { kernel: [kh, kw], stride, padding };
            cases.push(Case {
                op: if max { "max_pool2d" } else { "avg_pool2d" }.into(),
                inputs: vec![random(rng, &xd)],
                wrt: vec![0],
                build: Box::new(move |g, x| {
                    if max {
                        g.max_pool2d(x[0], win.kernel, win.stride, win.padding)
                    } else {
                        g.avg_pool2d(x[0], win.kernel, win.stride, win.padding)
                    }
                }),
                forward: Box::new(move |x| pool2d::pool2d(max, &x[0], &win)),
                backward: Box::new(move |x, g| vec![pool2d::pool2d_backward(max, &x[0], &win, g)]),
            });
        }
    }
}

/// Adaptive average pooling to sizes whose bins differ in size, overlap, or outnumber the
/// input's rows (the equal-bin sizes run as average pooling, checked above).
fn adaptive_pool_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    for (dims, output) in [([2, 3, 10, 9], [3, 4]), ([1, 2, 5, 7], [7, 7]), ([3, 4, 17, 13], [5, 6])] {
        cases.push(Case {
            op: "adaptive_avg_pool2d".into(),
            inputs: vec![random(rng, &dims)],
            wrt: vec![0],
            build: Box::new(move |g, x| g.adaptive_avg_pool2d(x[0], output)),
            forward: Box::new(move |x| pool2d::adaptive_avg_pool2d(&x[0], output)),
            backward: Box::new(move |x, g| vec![pool2d::adaptive_avg_pool2d_backward(&x[0], output, g)]),
        });
    }
}

fn batch_norm_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let eps = 1e-5;
    let n = rng.range(20, 40);
    // A channel's elements span one workgroup's walk, or several ([257, 3], [4, 3, 12, 12]).
    for dims in [&[n, 7][..], &[257, 3], &[3, 5, 7, 9], &[2, 1, 4, 4], &[5, 4, 11], &[4, 3, 12, 12]] {
        let c = dims[1];
        // Gamma away from zero, so the gradient of x carries every term.
        let gamma = uniform(rng, &[c], 0.5, 1.5);
        cases.push(Case {
            op: "batch_norm_train".into(),
            inputs: vec![random(rng, dims), gamma, random(rng, &[c])],
            wrt: vec![0, 1, 2],
            build: Box::new(move |g, x| {
                let state = g.batch_norm_state("bn", c)?;
                g.batch_norm_train(x[0], x[1], x[2], state, 0.1, eps as f32)
            }),
            forward: Box::new(move |x| batch_norm::batch_norm(&x[0], &x[1], &x[2], eps)),
            backward: Box::new(move |x, g| {
                let (dx, dgamma, dbeta) = batch_norm::batch_norm_backward(&x[0], &x[1], eps, g);
                vec![dx, dgamma, dbeta]
            }),
        });
    }
}

fn batch_norm_eval_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let eps = 1e-5;
    for dims in [&[rng.range(20, 40), 7][..], &[3, 5, 7, 9], &[4, 3, 12, 12]] {
        let c = dims[1];
        let (gamma, var) = (uniform(rng, &[c], 0.5, 1.5), uniform(rng, &[c], 0.25, 2.0));
        cases.push(Case {
            op: "batch_norm_eval".into(),
            inputs: vec![random(rng, dims), gamma, random(rng, &[c]), random(rng, &[c]), var],
            wrt: vec![0, 1, 2],
            build: Box::new(move |g, x| {
                let state = BatchNormState { running_mean: x[3], running_var: x[4] };
                g.batch_norm_eval(x[0], x[1], x[2], state, eps as f32)
            }),
            forward: Box::new(move |x| batch_norm::batch_norm_given(&x[0], &x[3], &x[4], &x[1], &x[2], eps)),
            backward: Box::new(move |x, g| {
                let (dx, dgamma, dbeta) = batch_norm::batch_norm_given_backward(&x[0], &x[3], &x[4], &x[1], eps, g);
                vec![dx, dgamma, dbeta]
            }),
        });
    }
}

fn recurrent_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    use crate::ir::recurrent::{CellKind, CellWeights, SCAN_MAX_ITERATIONS, scan_iterations};
    // Narrow layers run as a scan, wide ones (past SCAN_MAX_ITERATIONS) step by step.
    for (kind, packed, wide) in CellKind::ALL.into_iter().flat_map(|k| {
        [(false, false), (true, false), (false, true), (true, true)].map(|(packed, wide)| (k, packed, wide))
    }) {
        // Several steps and batch rows.
        let hidden = if wide { rng.range(96, 100) } else { rng.range(5, 17) };
        let (t_len, batch, features) = (rng.range(3, 5), rng.range(2, 4), rng.range(3, 7));
        let stepped = scan_iterations(kind, t_len, hidden) > SCAN_MAX_ITERATIONS;
        assert_eq!(stepped, wide, "{} runs the other way", kind.name());
        let rows = kind.gates() * hidden;
        let lstm = kind == CellKind::Lstm;
        let mut inputs = vec![
            uniform(rng, &[t_len, batch, features], -1.0, 1.0),
            uniform(rng, &[rows, features], -0.5, 0.5),
            uniform(rng, &[rows, hidden], -0.5, 0.5),
            uniform(rng, &[rows], -0.5, 0.5),
            uniform(rng, &[rows], -0.5, 0.5),
            uniform(rng, &[batch, hidden], -1.0, 1.0),
        ];
        if lstm {
            inputs.push(uniform(rng, &[batch, hidden], -1.0, 1.0));
        }
        let wrt = (0..inputs.len()).collect();
        let lengths = packed.then(|| {
            let (lengths, mask) = padded(rng, t_len, batch);
            inputs.push(mask);
            lengths
        });
        let mask_at = inputs.len() - 1;
        let op =
            format!("{}{}{}", kind.name(), if packed { "_packed" } else { "" }, if wide { "_stepped" } else { "" });
        let (forward_lengths, backward_lengths) = (lengths.clone(), lengths);
        cases.push(Case {
            op,
            wrt,
            inputs,
            build: Box::new(move |g, x| {
                let weights = CellWeights { w_ih: x[1], w_hh: x[2], biases: Some((x[3], x[4])) };
                let c0 = if lstm { Some(x[6]) } else { None };
                let mask = packed.then(|| x[mask_at]);
                Ok(g.recurrent_layer(kind, x[0], weights, Some(x[5]), c0, mask)?.output)
            }),
            forward: Box::new(move |x| with_layer(kind, x, forward_lengths.as_deref(), |l| l.forward())),
            backward: Box::new(move |x, g| {
                let d = with_layer(kind, x, backward_lengths.as_deref(), |l| l.backward(g));
                let mut all = vec![d.x, d.w_ih, d.w_hh, d.b_ih, d.b_hh, d.h0];
                if lstm {
                    all.push(d.c0);
                }
                all
            }),
        });
    }
}

/// The fused cell steps alone, on rows and gates past one workgroup's 64.
fn cell_step_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    use crate::ir::ops::recurrent::CellStep;
    use crate::reference::recurrent::{cell_step, cell_step_backward};
    for step in CellStep::ALL {
        let (batch, hidden) = (rng.range(3, 7), rng.range(9, 21));
        let mut inputs: Vec<Array> =
            (0..step.gate_inputs()).map(|_| uniform(rng, &[batch, step.gates() * hidden], -2.0, 2.0)).collect();
        inputs.push(uniform(rng, &[batch, hidden], -1.5, 1.5));
        cases.push(Case {
            op: step.name().into(),
            wrt: (0..inputs.len()).collect(),
            inputs,
            build: Box::new(move |g, x| g.cell_step(step, x)),
            forward: Box::new(move |x| cell_step(step, x)),
            backward: Box::new(move |x, g| cell_step_backward(step, x, g)),
        });
    }
}

/// The scans alone, on several steps: masked ones on batches past one workgroup's 64 rows (an
/// invocation a row), the others on wider states.
fn scan_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    use crate::ir::ops::recurrent::{CellKind, Scan};
    use crate::reference::recurrent::{scan, scan_backward};
    for cell in CellKind::ALL {
        for masked in [false, true] {
            let steps = rng.range(3, 5);
            let (batch, hidden) =
                if masked { (rng.range(60, 70), rng.range(5, 17)) } else { (rng.range(2, 6), rng.range(17, 25)) };
            let rows = cell.gates() * hidden;
            let mut inputs = vec![
                uniform(rng, &[steps, batch, rows], -1.5, 1.5),
                uniform(rng, &[rows, hidden], -0.5, 0.5),
                uniform(rng, &[batch, cell.state_width(hidden)], -1.0, 1.0),
            ];
            if cell.takes_hidden_bias() {
                inputs.push(uniform(rng, &[rows], -0.5, 0.5));
            }
            let wrt = (0..inputs.len()).collect();
            if masked {
                inputs.push(padded(rng, steps, batch).1);
            }
            let s = Scan { cell, masked };
            cases.push(Case {
                op: s.name(),
                wrt,
                inputs,
                build: Box::new(move |g, x| {
                    let (b_hh, mask) = s.optional_inputs(x[3..].iter().copied());
                    g.recurrent_scan(s, x[0], x[1], x[2], b_hh, mask)
                }),
                forward: Box::new(move |x| scan(s, x)),
                backward: Box::new(move |x, g| scan_backward(s, x, g)),
            });
        }
    }
}

/// The lengths of `batch` sequences padded to `steps` (the first has every step, the second
/// one, the rest at random) and their mask `[steps, batch, 1]`.
fn padded(rng: &mut Rng, steps: usize, batch: usize) -> (Vec<usize>, Array) {
    let lengths: Vec<usize> =
        (0..batch).map(|b| [steps, 1].get(b).copied().unwrap_or_else(|| rng.range(1, steps + 1))).collect();
    let mask = (0..steps * batch).map(|i| if i / batch < lengths[i % batch] { 1.0 } else { 0.0 }).collect();
    (lengths, Array::new(&[steps, batch, 1], mask))
}

/// `f` of the reference layer of inputs [x, w_ih, w_hh, b_ih, b_hh, h0, (c0)] over sequences
/// of `lengths`.
fn with_layer<T>(
    kind: crate::ir::recurrent::CellKind,
    x: &[Array],
    lengths: Option<&[usize]>,
    f: impl FnOnce(&crate::reference::recurrent::Layer) -> T,
) -> T {
    let zeros = Array::zeros(&x[5].dims);
    let lstm = kind == crate::ir::recurrent::CellKind::Lstm;
    let layer = crate::reference::recurrent::Layer {
        kind,
        x: &x[0],
        w_ih: &x[1],
        w_hh: &x[2],
        b_ih: &x[3],
        b_hh: &x[4],
        h0: &x[5],
        c0: if lstm { &x[6] } else { &zeros },
        lengths,
    };
    f(&layer)
}

fn uniform(rng: &mut Rng, dims: &[usize], lo: f64, hi: f64) -> Array {
    let n = dims.iter().product();
    Array::new(dims, (0..n).map(|_| (lo + (hi - lo) * rng.uniform()) as f32 as f64).collect())
}

fn labels(rng: &mut Rng, rows: usize, classes: usize) -> Array {
    Array::new(&[rows], (0..rows).map(|_| rng.range(0, classes - 1) as f64).collect())
}

fn loss_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    let mut push = |kind: LossKind, pred: Array, target: Array, wrt: Vec<usize>| {
        cases.push(Case {
            op: kind.name().into(),
            inputs: vec![pred, target],
            wrt: wrt.clone(),
            build: Box::new(move |g, x| g.loss(kind, x[0], x[1])),
            forward: Box::new(move |x| Array::new(&[], vec![loss::loss(kind, &x[0], &x[1])])),
            backward: Box::new(move |x, g| {
                let d_pred = loss::loss_backward(kind, &x[0], &x[1], g.data[0]);
                let d_target = Array::new(&d_pred.dims, d_pred.data.iter().map(|v| -v).collect());
                wrt.iter().map(|&k| if k == 0 { d_pred.clone() } else { d_target.clone() }).collect()
            }),
        });
    };
    for dims in [&[257, 1][..], &[33, 7], &[1]] {
        push(LossKind::Mse, random(rng, dims), random(rng, dims), vec![0, 1]);
        push(LossKind::Bce, uniform(rng, dims, 0.05, 0.95), uniform(rng, dims, 0.0, 1.0), vec![0]);
        let logits = uniform(rng, dims, -4.0, 4.0);
        push(LossKind::BceWithLogits, logits, uniform(rng, dims, 0.0, 1.0), vec![0]);
    }
    for (rows, c) in [(257, 10), (33, 7), (1, 5), (7, 1)] {
        let logits = uniform(rng, &[rows, c], -4.0, 4.0);
        let log_probs = softmax::log_softmax(&logits);
        let log_probs = Array::new(&[rows, c], log_probs.data.iter().map(|&v| v as f32 as f64).collect());
        push(LossKind::Nll, log_probs, labels(rng, rows, c), vec![0]);
        push(LossKind::CrossEntropy, logits, labels(rng, rows, c), vec![0]);
    }
}

fn softmax_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    for log in [false, true] {
        for dims in [&[257, 10][..], &[33, 7], &[2, 3, 33], &[5]] {
            cases.push(Case {
                op: if log { "log_softmax" } else { "softmax" }.into(),
                inputs: vec![uniform(rng, dims, -4.0, 4.0)],
                wrt: vec![0],
                build: Box::new(move |g, x| if log { g.log_softmax(x[0]) } else { g.softmax(x[0]) }),
                forward: Box::new(move |x| if log { softmax::log_softmax(&x[0]) } else { softmax::softmax(&x[0]) }),
                backward: Box::new(move |x, g| vec![softmax::softmax_backward(log, &x[0], g)]),
            });
        }
    }
}

fn layout_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    // Shapes of several workgroups (256 elements) and odd extents; axes first, last, middle.
    let long = rng.range(70, 140);
    let narrows: [(&[usize], usize, usize, usize); 4] =
        [(&[long, 9], 0, 3, long - 5), (&[7, 33, 5], 1, 30, 3), (&[3, 5, 7, 11], 3, 1, 9), (&[257], 0, 256, 1)];
    for (dims, axis, start, len) in narrows {
        let full: Vec<usize> = dims.to_vec();
        cases.push(Case {
            op: format!("narrow_axis{axis}"),
            inputs: vec![random(rng, dims)],
            wrt: vec![0],
            build: Box::new(move |g, x| g.narrow(x[0], axis as isize, start as isize, len)),
            forward: Box::new(move |x| layout::narrow(&x[0], axis, start, len)),
            backward: Box::new(move |_, g| vec![layout::pad(g, axis, start, &full)]),
        });
    }
    let pads: [(&[usize], usize, usize, usize); 2] = [(&[long, 9], 1, 2, 15), (&[3, 4, 5, 6], 0, 1, 7)];
    for (dims, axis, start, outer) in pads {
        let mut out_dims = dims.to_vec();
        out_dims[axis] = outer;
        let len = dims[axis];
        cases.push(Case {
            op: format!("pad_axis{axis}"),
            inputs: vec![random(rng, dims)],
            wrt: vec![0],
            build: Box::new({
                let out_dims = out_dims.clone();
                move |g, x| g.pad(x[0], axis, start, &out_dims)
            }),
            forward: Box::new(move |x| layout::pad(&x[0], axis, start, &out_dims)),
            backward: Box::new(move |_, g| vec![layout::narrow(g, axis, start, len)]),
        });
    }
    let perms: [(&[usize], &[usize]); 4] = [
        (&[long, 33], &[1, 0]),
        (&[5, 7, 11], &[2, 0, 1]),
        (&[3, 5, 7, 9], &[0, 2, 3, 1]),
        (&[2, 3, 4, 5], &[3, 2, 1, 0]),
    ];
    for (dims, perm) in perms {
        let order: Vec<isize> = perm.iter().map(|&p| p as isize).collect();
        cases.push(Case {
            op: format!("permute{perm:?}").replace(' ', ""),
            inputs: vec![random(rng, dims)],
            wrt: vec![0],
            build: Box::new(move |g, x| g.permute(x[0], &order)),
            forward: Box::new(move |x| layout::permute(&x[0], perm)),
            backward: Box::new(move |_, g| vec![layout::permute(g, &layout::inverse(perm))]),
        });
    }
    let cats: [(&[usize], &[usize], usize); 3] =
        [(&[long, 7], &[33, 7], 0), (&[5, 9, 11], &[5, 2, 11], 1), (&[2, 3, 5, 40], &[2, 3, 5, 1], 3)];
    for (da, db, axis) in cats {
        let (la, lb) = (da[axis], db[axis]);
        cases.push(Case {
            op: format!("cat_axis{axis}"),
            inputs: vec![random(rng, da), random(rng, db)],
            wrt: vec![0, 1],
            build: Box::new(move |g, x| g.cat(&[x[0], x[1]], axis as isize)),
            forward: Box::new(move |x| layout::concat(&x[0], &x[1], axis)),
            backward: Box::new(move |_, g| vec![layout::narrow(g, axis, 0, la), layout::narrow(g, axis, la, lb)]),
        });
    }
    for (rows, classes) in [(long, 10), (7, 257)] {
        // Whole class indices, with one out of range (a row of zeros).
        let mut labels: Vec<f64> = (0..rows).map(|_| rng.range(0, classes - 1) as f64).collect();
        labels[rows / 2] = classes as f64;
        cases.push(Case {
            op: "one_hot".into(),
            inputs: vec![Array::new(&[rows], labels)],
            wrt: vec![],
            build: Box::new(move |g, x| g.one_hot(x[0], classes)),
            forward: Box::new(move |x| layout::one_hot(&x[0], classes)),
            backward: Box::new(|_, _| vec![]),
        });
    }
}

fn embedding_cases(rng: &mut Rng, cases: &mut Vec<Case>) {
    // Positions and features past one workgroup's 64 of the gradient; indices repeated, and
    // one outside the rows (zeros, no gradient).
    for (rows, features, positions) in [(13usize, 70usize, &[rng.range(100, 140)][..]), (5, 3, &[2, 4, 3])] {
        let count: usize = positions.iter().product();
        let mut indices: Vec<f64> = (0..count).map(|_| rng.range(0, rows - 1) as f64).collect();
        indices[count / 2] = rows as f64;
        cases.push(Case {
            op: "embedding".into(),
            inputs: vec![random(rng, &[rows, features]), Array::new(positions, indices)],
            wrt: vec![0],
            build: Box::new(|g, x| g.embedding(x[0], x[1])),
            forward: Box::new(|x| layout::embedding(&x[0], &x[1])),
            backward: Box::new(move |x, g| vec![layout::embedding_backward(&x[1], rows, g)]),
        });
    }
    // The sort behind the gradient: positions past one workgroup's 256, many repeats, indices
    // outside the rows at both ends of the order.
    let (rows, count) = (40usize, rng.range(300, 400));
    let mut indices: Vec<f64> = (0..count).map(|_| rng.range(0, rows - 1) as f64).collect();
    indices[7] = -1.0;
    indices[count - 3] = rows as f64 + 2.0;
    cases.push(Case {
        op: "index_order".into(),
        inputs: vec![Array::new(&[count], indices)],
        wrt: vec![],
        build: Box::new(move |g, x| g.index_order(x[0], rows)),
        forward: Box::new(move |x| layout::index_order(&x[0], rows)),
        backward: Box::new(|_, _| vec![]),
    });
}

/// A random stream for the cases named `name`: each family of cases draws from its own, so
/// adding a case changes no other case's shapes or values.
pub fn named_rng(seed: u64, name: &str) -> Rng {
    Rng::new(named_seed(seed, name))
}

/// `seed` mixed with the FNV-1a hash of `name`.
pub fn named_seed(seed: u64, name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    seed ^ hash
}

/// The seed of each case's run (its upstream gradient and probes), from its name and how
/// many cases of that name come before it.
pub fn run_seeds(seed: u64, cases: &[Case]) -> Vec<u64> {
    let mut seen: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    cases
        .iter()
        .map(|case| {
            let n = seen.entry(case.op.as_str()).or_insert(0);
            *n += 1;
            named_seed(seed, &format!("{}#{}", case.op, *n - 1))
        })
        .collect()
}

/// Every case of the suite, with shapes and values drawn from `seed`.
pub fn all_cases(seed: u64) -> Vec<Case> {
    let mut cases = Vec::new();
    let families: [(&str, Family); 21] = [
        ("matmul", matmul_cases),
        ("matmul_batched", batched_matmul_cases),
        ("matmul_fused", fused_matmul_cases),
        ("binary", binary_cases),
        ("dropout", dropout_cases),
        ("reduce", reduce_cases),
        ("max", max_cases),
        ("conv2d", conv2d_cases),
        ("pool2d", pool2d_cases),
        ("conv_block", conv_block_cases),
        ("loss", loss_cases),
        ("softmax", softmax_cases),
        ("batch_norm", batch_norm_cases),
        ("batch_norm_eval", batch_norm_eval_cases),
        ("recurrent", recurrent_cases),
        ("embedding", embedding_cases),
        ("cell_step", cell_step_cases),
        ("scan", scan_cases),
        ("adaptive_avg_pool2d", adaptive_pool_cases),
        ("layout", layout_cases),
        ("matmul_in_fours", matmul_in_fours_cases),
    ];
    for (name, family) in families {
        family(&mut named_rng(seed, name), &mut cases);
    }
    unary_cases(seed, &mut cases);
    fused_activation_cases(seed, &mut cases);
    cases
}
