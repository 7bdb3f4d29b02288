//! Storage kernels that read their input from the plan's texture on software adapters (max
//! pooling forward and back, im2col of a 3×3 window and col2im at stride 1, bias gradients,
//! Adam's update): cut into launches that each copy at most 896 KiB of that input (or a 25th
//! of a large plan's buffers), they compute what the kernels reading storage compute.

use shadergrad::backend::kernels::matmul::MatmulVariant;
use shadergrad::ir::autodiff::gradients;
use shadergrad::ir::ops::optim::Optimizer;
use shadergrad::ir::ops::window::Window;
use shadergrad::{Device, DeviceOptions, Graph, NodeId, Plan};

fn device(variant: MatmulVariant) -> Device {
    let options = DeviceOptions { matmul: Some(variant), ..DeviceOptions::from_env().unwrap() };
    Device::with_options(&options).expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

/// Values with ties (so the first maximum of a window must win) and signs (so a fused ReLU
/// masks some windows).
fn wave(n: usize, k: usize) -> Vec<f32> {
    let f = 0.29 + k as f32 * 0.13;
    (0..n).map(|i| ((i as f32 * f).sin() * 4.0).round() * 0.25 + 0.01 * (i % 7) as f32).collect()
}

/// Runs `build`'s graph on `device` with waves in its inputs (name, elements); the outputs'
/// values and how many launches each op name took.
fn run(
    device: &Device,
    build: &dyn Fn(&mut Graph) -> Vec<NodeId>,
    inputs: &[(&str, usize)],
) -> (Vec<Vec<f32>>, Vec<String>) {
    let mut g = Graph::new();
    let outs = build(&mut g);
    let mut plan = Plan::compile(device, &g, &outs).unwrap();
    for (k, &(name, n)) in inputs.iter().enumerate() {
        plan.write_named(name, &wave(n, k)).unwrap();
    }
    let values = plan.run_and_read(&outs).unwrap();
    (values, plan.launch_ops().iter().map(|s| s.to_string()).collect())
}

/// The textured and the storage-reading plans' outputs, and the textured plan's launches.
fn both(build: &dyn Fn(&mut Graph) -> Vec<NodeId>, inputs: &[(&str, usize)]) -> [(Vec<Vec<f32>>, Vec<String>); 2] {
    [run(&device(MatmulVariant::Textured), build, inputs), run(&device(MatmulVariant::RegisterBlocked), build, inputs)]
}

fn count(launches: &[String], op: &str) -> usize {
    launches.iter().filter(|l| l.as_str() == op).count()
}

#[test]
fn max_pooling_over_more_planes_than_one_copy_holds_matches_storage() {
    // 384 planes of 28×28 (1.2 MB), 4608 of 7×8 (1 MB): two launches each; 7×8 leaves a row of cells
    // past the last window. The gradient of a ReLU before the pool is fused into its pass.
    for dims in [[6, 64, 28, 28], [64, 72, 7, 8]] {
        let n: usize = dims.iter().product();
        let build = move |g: &mut Graph| {
            let x = g.input("x", &dims).unwrap();
            let pooled = g.max_pool2d(x, [2, 2], [2, 2], [0, 0]).unwrap();
            let relu = g.relu(x).unwrap();
            let pooled_relu = g.max_pool2d(relu, [2, 2], [2, 2], [0, 0]).unwrap();
            let loss = g.sum(pooled_relu).unwrap();
            let mut outs = vec![pooled];
            outs.extend(gradients(g, loss, None, &[x]).unwrap());
            let window = Window { kernel: [2, 2], stride: [2, 2], padding: [0, 0] };
            let dy = g.relu(pooled).unwrap();
            outs.push(g.pool2d_backward(true, window, dy, x).unwrap());
            outs
        };
        let [(textured, launches), (storage, storage_launches)] = both(&build, &[("x", n)]);
        for op in ["pool2d", "maxpoolrelubackward", "pool2dbackward"] {
            assert_eq!(count(&storage_launches, op), 1, "{storage_launches:?}");
            assert_eq!(count(&launches, op), 2, "{launches:?}");
        }
        // The same maxima, the same gradients: equal, not close.
        assert_eq!(textured, storage, "{dims:?}");
    }
}

#[test]
fn a_plan_with_large_buffers_copies_a_25th_of_them_a_launch() {
    // 8192 planes of 28×28 pooled: the plan's buffers (x, 25.7 MB, and the pooled, 6.4 MB)
    // make a budget of 1.28 MB, 409 planes a launch: 21 launches, where 896 KiB would take 29.
    let dims = [256, 32, 28, 28];
    let n: usize = dims.iter().product();
    let build = move |g: &mut Graph| {
        let x = g.input("x", &dims).unwrap();
        vec![g.max_pool2d(x, [2, 2], [2, 2], [0, 0]).unwrap()]
    };
    let [(textured, launches), (storage, _)] = both(&build, &[("x", n)]);
    let budget = (n * 4 + n) / 25;
    let planes_each = budget / (28 * 28 * 4);
    assert_eq!(count(&launches, "pool2d"), (256 * 32usize).div_ceil(planes_each));
    assert_eq!(count(&launches, "pool2d"), 21);
    assert_eq!(textured, storage);
}

#[test]
fn col2im_over_more_images_than_one_copy_holds_matches_storage() {
    // 20 images of 144 × 196 columns (113 KB each): three launches, seven images a launch.
    // Padding 1: the taps left of an image's first column read the texture's margin row.
    let window = Window { kernel: [3, 3], stride: [1, 1], padding: [1, 1] };
    for (x_dims, cols) in [([20, 16, 14, 14], [20, 144, 196]), ([3, 2, 5, 6], [3, 18, 30])] {
        let n: usize = cols.iter().product();
        let build = move |g: &mut Graph| {
            let grad = g.input("cols", &cols).unwrap();
            vec![g.col2im(window, grad, &x_dims).unwrap()]
        };
        let [(textured, launches), (storage, storage_launches)] = both(&build, &[("cols", n)]);
        assert_eq!(count(&storage_launches, "col2im"), 1);
        assert_eq!(count(&launches, "col2im"), x_dims[0].div_ceil(7).min(x_dims[0]), "{launches:?}");
        let (got, want) = (&textured[0], &storage[0]);
        // Nine taps summed in the same order, but four at a time: equal within a rounding.
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-6 * (1.0 + w.abs()), "{x_dims:?}: element {i}: {g} vs {w}");
        }
    }
}

#[test]
fn im2col_over_more_images_than_one_copy_holds_matches_storage() {
    // 100 images of 32 × 14 × 14 (25 KB each): three launches of 35 images; with padding 1
    // and without; 5 × 6 images of 24 channels are whole texels too. (Filters of fewer
    // weights run the direct kernel, which makes no columns.)
    for (x_dims, filters, padding) in
        [([100, 32, 14, 14], [8, 32, 3, 3], 1), ([3, 24, 5, 6], [10, 24, 3, 3], 0), ([3, 24, 5, 6], [10, 24, 3, 3], 1)]
    {
        let build = move |g: &mut Graph| {
            let x = g.input("x", &x_dims).unwrap();
            let w = g.input("w", &filters).unwrap();
            vec![g.conv2d(x, w, [1, 1], [padding, padding]).unwrap()]
        };
        let inputs = [("x", x_dims.iter().product()), ("w", filters.iter().product())];
        let [(textured, launches), (storage, storage_launches)] = both(&build, &inputs);
        assert_eq!(count(&storage_launches, "im2col"), 1);
        assert_eq!(count(&launches, "im2col"), x_dims[0].div_ceil(35).min(x_dims[0]), "{launches:?}");
        // The same columns into products that sum k in the same order: equal, not close.
        let wrong = textured[0].iter().zip(&storage[0]).position(|(a, b)| a != b);
        assert!(wrong.is_none(), "{x_dims:?}: element {wrong:?}");
    }
}

#[test]
fn a_bias_gradient_over_more_images_than_one_copy_holds_matches_storage() {
    // (shape, launches): 20 images of 32 × 28 × 28 (100 KB each) in three launches of eight
    // images, each adding its sums to the last; 5 × 4 planes are whole texels too; 7 × 7 and
    // 3 × 3 planes are not (their first and last texels hold other channels' elements) while
    // the images are (25 KB: 36 a launch); images of 3 × 5 × 5 are not whole texels either,
    // and are summed from storage.
    for (dims, launches_expected) in
        [([20, 32, 28, 28], 3), ([3, 7, 5, 4], 1), ([100, 128, 7, 7], 3), ([6, 4, 3, 3], 1), ([40, 3, 5, 5], 1)]
    {
        let n: usize = dims.iter().product();
        let build = move |g: &mut Graph| {
            let x = g.input("x", &dims).unwrap();
            vec![g.sum_to(x, &[1, dims[1], 1, 1], 1.0).unwrap()]
        };
        let [(textured, launches), (storage, storage_launches)] = both(&build, &[("x", n)]);
        assert_eq!(count(&storage_launches, "sum"), 1);
        assert_eq!(count(&launches, "sum"), launches_expected, "{dims:?}: {launches:?}");
        // Sums of up to 78 400 elements, in another order: close, not equal.
        for (c, (g, w)) in textured[0].iter().zip(&storage[0]).enumerate() {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{dims:?}: channel {c}: {g} vs {w}");
        }
    }
}

#[test]
fn adam_over_more_elements_than_one_copy_holds_matches_storage() {
    // 241 × 256 elements: a launch copies 57 344 of each of the parameter, gradient, m and v
    // (14 texel rows each), so two launches, the second short of its rows. Three steps, so
    // that m and v read back non-zero.
    let dims = [241, 256];
    let n = dims[0] * dims[1];
    let opt = Optimizer::Adam { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.1 };
    let steps = |variant: MatmulVariant| {
        let mut g = Graph::new();
        let p = g.param("p", &dims).unwrap();
        let grad = g.input("grad", &dims).unwrap();
        g.optimizer_update(p, grad, opt).unwrap();
        let reads = vec![p, g.find("p.m").unwrap(), g.find("p.v").unwrap()];
        let mut plan = Plan::compile(&device(variant), &g, &reads).unwrap();
        plan.write(p, &wave(n, 0)).unwrap();
        let values: Vec<_> = (1..=3)
            .map(|t| {
                plan.write(grad, &wave(n, t)).unwrap();
                plan.run_and_read(&reads).unwrap()
            })
            .collect();
        (values, plan.launch_ops().iter().filter(|&&op| op == "update").count())
    };
    let (textured, launches) = steps(MatmulVariant::Textured);
    let (storage, storage_launches) = steps(MatmulVariant::RegisterBlocked);
    assert_eq!((launches, storage_launches), (2, 1));
    // The same arithmetic on the same values: equal, not close.
    for (t, (got, want)) in textured.iter().zip(&storage).enumerate() {
        for (k, what) in ["parameter", "m", "v"].iter().enumerate() {
            let wrong = got[k].iter().zip(&want[k]).position(|(a, b)| a != b);
            assert!(
                wrong.is_none(),
                "step {}: {what}[{}]: {:?} vs {:?}",
                t + 1,
                wrong.unwrap(),
                got[k][wrong.unwrap()],
                want[k][wrong.unwrap()]
            );
        }
    }
}
