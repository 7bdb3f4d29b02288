//! Matrix products that read their operands from a texture (`MatmulVariant::Textured`, or
//! `TexturedSubgroups` where the adapter has subgroups of eight: the default on software
//! adapters): cut into launches that each copy at most 896 KiB of operands, they compute
//! what the storage-reading kernels compute, and the plan's memory counts the texture.

use shadergrad::backend::kernels::matmul::MatmulVariant;
use shadergrad::{Device, DeviceOptions, Graph, NodeId, Plan};

/// The textured variant a software adapter runs by default: with subgroups where it has them.
fn textured() -> MatmulVariant {
    let device = device(MatmulVariant::RegisterBlocked);
    let info = device.info();
    let eight_lanes = MatmulVariant::TexturedSubgroups.runs_on(device.wgpu_device().features(), info);
    if eight_lanes { MatmulVariant::TexturedSubgroups } else { MatmulVariant::Textured }
}

fn device(variant: MatmulVariant) -> Device {
    let options = DeviceOptions { matmul: Some(variant), ..DeviceOptions::from_env().unwrap() };
    Device::with_options(&options).expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

/// A textured device whose 2-D textures are at most `rows` texels high.
fn device_with_texture_rows(rows: u32) -> Device {
    let options = DeviceOptions {
        matmul: Some(textured()),
        cap_texture_dimension_2d: Some(rows),
        ..DeviceOptions::from_env().unwrap()
    };
    Device::with_options(&options).expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

fn wave(n: usize, k: usize) -> Vec<f32> {
    let f = 0.31 + k as f32 * 0.17;
    (0..n).map(|i| (i as f32 * f).sin() * 0.5 + 0.01).collect()
}

/// Runs `build`'s graph once on `device` with waves in its inputs `a` and `b`; the output's
/// values, the launches' entry points and the plan's bytes.
fn run(device: &Device, build: &dyn Fn(&mut Graph) -> NodeId, sizes: [usize; 2]) -> (Vec<f32>, Vec<String>, u64) {
    let mut g = Graph::new();
    let out = build(&mut g);
    let mut plan = Plan::compile(device, &g, &[out]).unwrap();
    plan.write_named("a", &wave(sizes[0], 0)).unwrap();
    plan.write_named("b", &wave(sizes[1], 1)).unwrap();
    let values = plan.run_and_read(&[out]).unwrap().remove(0);
    let launches = plan.launch_ops().iter().map(|s| s.to_string()).collect();
    (values, launches, plan.counters().bytes_allocated)
}

/// The textured and the storage-reading plans of `build`: their values, launches and bytes.
fn both(build: &dyn Fn(&mut Graph) -> NodeId, sizes: [usize; 2]) -> [(Vec<f32>, Vec<String>, u64); 2] {
    [run(&device(textured()), build, sizes), run(&device(MatmulVariant::RegisterBlocked), build, sizes)]
}

/// Every element of `got` within 1e-5 (relative, past 1) of `want`'s.
fn assert_close(case: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{case}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{case}: element {i}: {g} vs {w}");
    }
}

#[test]
fn a_batch_too_large_for_one_copy_runs_as_several_launches_with_the_same_values() {
    // Entries of 64 × 1160 floats (297 KB): three a launch, with the shared A.
    let build = |g: &mut Graph| {
        let a = g.input("a", &[12, 64]).unwrap();
        let b = g.input("b", &[8, 64, 1160]).unwrap();
        g.matmul(a, b).unwrap()
    };
    let [(textured, launches, bytes), (storage, storage_launches, storage_bytes)] =
        both(&build, [12 * 64, 8 * 64 * 1160]);
    assert_eq!(storage_launches.len(), 1);
    assert_eq!(launches.len(), 3, "{launches:?}");
    // The same products, k in the same order: the same floats.
    assert_eq!(textured, storage);
    // The texture: at most the megabyte a launch copies, plus a partial row per operand.
    assert!(bytes > storage_bytes && bytes <= storage_bytes + (1 << 20) + 2 * 16384, "{bytes} vs {storage_bytes}");
}

#[test]
fn a_batch_sum_over_more_than_one_copy_adds_launches_into_its_partial_sums() {
    let build = |g: &mut Graph| {
        let a = g.input("a", &[12, 64]).unwrap();
        let b = g.input("b", &[8, 64, 1160]).unwrap();
        let y = g.matmul(a, b).unwrap();
        g.sum_to(y, &[12, 1160], 1.0).unwrap()
    };
    let [(textured, launches, _), (storage, storage_launches, _)] = both(&build, [12 * 64, 8 * 64 * 1160]);
    // Partial sums, then their sum; the textured partial sums take more than one launch each.
    assert!(launches.len() > storage_launches.len(), "{launches:?} vs {storage_launches:?}");
    // Launches that add their entries' sum to a partial sum round differently from one
    // running sum: close, not equal.
    assert_close("batch sum", &textured, &storage);
}

#[test]
fn a_layer_too_large_for_one_copy_runs_as_bands_of_rows_with_the_same_values() {
    // B is 800 KiB: bands of 48 rows of A fit beside it.
    let build = |g: &mut Graph| {
        let a = g.input("a", &[100, 512]).unwrap();
        let b = g.input("b", &[512, 400]).unwrap();
        let y = g.matmul(a, b).unwrap();
        g.relu(y).unwrap()
    };
    let [(textured, launches, bytes), (storage, _, storage_bytes)] = both(&build, [100 * 512, 512 * 400]);
    assert_eq!(launches.len(), 100usize.div_ceil(48) + 1, "{launches:?}");
    assert_eq!(textured, storage);
    assert!(bytes <= storage_bytes + (1 << 20) + 2 * 16384);
}

#[test]
fn a_product_whose_right_operand_alone_passes_the_budget_runs_as_bands_along_k() {
    // With k = 1024, B is 2 MiB, so neither whole operands nor bands of A's rows fit: three
    // bands along k (344, 344 and 336 deep) add up, in every storage layout (an operand
    // stored along k is copied as strided runs packed into texel rows, with room left at
    // each row's end). With k = 544, two bands of 272, 14 runs to a texel row rather than
    // the 15 that fit (wgpu copies rows from multiples of 256 bytes).
    for (k, bands) in [(1024, 3), (544, 2)] {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let build = move |g: &mut Graph| {
                let a = g.input("a", &if ta { [k, 64] } else { [64, k] }).unwrap();
                let b = g.input("b", &if tb { [512, k] } else { [k, 512] }).unwrap();
                let bias = g.fill(&[512], 0.25).unwrap();
                let y = g.matmul_t(a, b, ta, tb).unwrap();
                g.add(y, bias).unwrap()
            };
            let [(textured, launches, bytes), (storage, _, storage_bytes)] = both(&build, [64 * k, k * 512]);
            assert_eq!(launches.len(), bands, "{k} {ta} {tb}: {launches:?}");
            assert!(bytes <= storage_bytes + (1 << 20) + 2 * 16384);
            // Each band's sum is added to C: close to one running sum, not equal.
            assert_close(&format!("{k} {ta} {tb}"), &textured, &storage);
        }
    }
}

#[test]
fn a_large_plain_product_may_copy_a_quarter_of_its_own_bytes() {
    // A, B and C take 6 MiB: bands may copy 1.5 MiB (not 896 KiB), so 4 bands of 256
    // along k rather than 6 of about 172, and the texture stays within a quarter of them.
    let build = |g: &mut Graph| {
        let a = g.input("a", &[256, 1024]).unwrap();
        let b = g.input("b", &[1024, 1024]).unwrap();
        g.matmul(a, b).unwrap()
    };
    let [(textured, launches, bytes), (storage, _, storage_bytes)] = both(&build, [256 * 1024, 1024 * 1024]);
    assert_eq!(launches.len(), 4, "{launches:?}");
    let own = 4 * (256 * 1024 + 1024 * 1024 + 256 * 1024);
    assert!(bytes - storage_bytes <= own / 4, "{bytes} vs {storage_bytes}");
    assert_close("256x1024x1024", &textured, &storage);
}

#[test]
fn products_whose_operands_do_not_come_in_fours_are_packed_into_texels() {
    // [m, k, n] with k, m or n not in fours, every storage layout (in some, the operands
    // whose rows do come in fours are copied), then batched
    // (a convolution's filters times 100 images of 9×784 patches takes two launches of
    // packed images; 49×576 patches, as 7×7 images with 64 channels, take several).
    let sizes = [[20, 30, 10], [33, 9, 70], [12, 49, 40], [7, 5, 3], [6, 8, 10], [13, 12, 6]];
    for [m, k, n] in sizes {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let build = move |g: &mut Graph| {
                let a = g.input("a", &if ta { [k, m] } else { [m, k] }).unwrap();
                let b = g.input("b", &if tb { [n, k] } else { [k, n] }).unwrap();
                g.matmul_t(a, b, ta, tb).unwrap()
            };
            let [(textured, launches, bytes), (storage, _, storage_bytes)] = both(&build, [m * k, k * n]);
            // Both operands packed where k is odd, else the one whose rows are.
            let packs = launches.iter().filter(|l| *l == "pack").count();
            let want =
                if k % 4 != 0 { 2 } else { [ta && m % 4 != 0, !tb && n % 4 != 0].iter().filter(|&&p| p).count() };
            assert_eq!((packs, launches.len()), (want, want + 1), "{m}x{k}x{n} {ta} {tb}: {launches:?}");
            assert!(bytes > storage_bytes, "{m}x{k}x{n}: no texture");
            // The same terms in the same order, the padding adding zeros: the same floats.
            assert_eq!(textured, storage, "{m}x{k}x{n} {ta} {tb}");
        }
    }
    for (m, k, n, batch) in [(32, 9, 784, 100), (128, 576, 49, 30)] {
        let build = move |g: &mut Graph| {
            let a = g.input("a", &[m, k]).unwrap();
            let b = g.input("b", &[batch, k, n]).unwrap();
            g.matmul(a, b).unwrap()
        };
        let [(textured, launches, _), (storage, _, _)] = both(&build, [m * k, batch * k * n]);
        let products = launches.iter().filter(|l| *l == "matmul").count();
        assert!(products > 1, "{m}x{k}x{n} x{batch}: {launches:?}");
        assert_eq!(textured, storage, "{m}x{k}x{n} x{batch}");
    }
}

#[test]
fn a_batch_sum_of_packed_operands_matches_storage() {
    // A convolution's filter gradient at 7×7: [128, 49] times [49, 576] per image (k odd),
    // summed over 30 images, in partial sums of several launches.
    let build = |g: &mut Graph| {
        let a = g.input("a", &[30, 128, 49]).unwrap();
        let b = g.input("b", &[30, 576, 49]).unwrap();
        let y = g.matmul_t(a, b, false, true).unwrap();
        g.sum_to(y, &[128, 576], 1.0).unwrap()
    };
    let [(textured, launches, _), (storage, _, _)] = both(&build, [30 * 128 * 49, 30 * 576 * 49]);
    assert!(launches.iter().filter(|l| *l == "pack").count() >= 4, "{launches:?}");
    assert_close("packed batch sum", &textured, &storage);
}

#[test]
fn a_fused_relu_over_bands_along_k_applies_to_the_whole_sum() {
    // B [600, 512] is 1.2 MiB: two bands along k, the ReLU applied by the second to the sum
    // (a ReLU of each band's part would differ wherever the parts' signs differ).
    let build = |g: &mut Graph| {
        let a = g.input("a", &[8, 512]).unwrap();
        let b = g.input("b", &[600, 512]).unwrap();
        let bias = g.fill(&[600], -0.05).unwrap();
        let y = g.matmul_t(a, b, false, true).unwrap();
        let y = g.add(y, bias).unwrap();
        g.relu(y).unwrap()
    };
    let [(textured, launches, _), (storage, _, _)] = both(&build, [8 * 512, 600 * 512]);
    assert_eq!(launches, ["matmulbias", "matmulbias"]);
    assert!(storage.contains(&0.0) && storage.iter().any(|&v| v > 0.0));
    assert_close("relu over bands", &textured, &storage);
}

#[test]
fn a_packed_product_too_large_for_one_launch_runs_in_packed_bands_along_k() {
    // k = 301: no copy lays either operand out; B (1.3 MB packed) passes the budget, so
    // two bands along k are packed in turn, the last 149 deep (padded to 152), in every
    // storage layout. A packed product within its own budget (a quarter of its bytes) is
    // one launch.
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let build = move |g: &mut Graph| {
            let a = g.input("a", &if ta { [301, 8] } else { [8, 301] }).unwrap();
            let b = g.input("b", &if tb { [1100, 301] } else { [301, 1100] }).unwrap();
            g.matmul_t(a, b, ta, tb).unwrap()
        };
        let [(textured, launches, _), (storage, _, _)] = both(&build, [8 * 301, 301 * 1100]);
        assert_eq!(launches, ["pack", "pack", "matmul", "pack", "pack", "matmul"], "{ta} {tb}");
        assert_close(&format!("packed bands {ta} {tb}"), &textured, &storage);
    }
    // Aᵀ [40, 402] (rows of 402 packed) and B [40, 6000] copied: 1.0 MB, past 896 KiB but
    // within a quarter of the product's 10.7 MB.
    let build = |g: &mut Graph| {
        let a = g.input("a", &[40, 402]).unwrap();
        let b = g.input("b", &[40, 6000]).unwrap();
        g.matmul_t(a, b, true, false).unwrap()
    };
    let [(textured, launches, bytes), (storage, _, storage_bytes)] = both(&build, [40 * 402, 40 * 6000]);
    assert_eq!(launches, ["pack", "matmul"]);
    assert!(bytes - storage_bytes > 896 << 10, "{bytes} vs {storage_bytes}");
    assert_eq!(textured, storage);
}

#[test]
fn a_product_whose_texture_would_pass_the_adapters_limit_reads_storage() {
    // 100×1024 · 1024×1024 runs in bands along k of up to a quarter of its 5 MB (about 80
    // texel rows); where textures may be only 64 rows high it reads storage instead.
    let build = |g: &mut Graph| {
        let a = g.input("a", &[100, 1024]).unwrap();
        let b = g.input("b", &[1024, 1024]).unwrap();
        g.matmul(a, b).unwrap()
    };
    let sizes = [100 * 1024, 1024 * 1024];
    let [(textured, launches, _), (storage, _, storage_bytes)] = both(&build, sizes);
    assert!(launches.len() > 1, "{launches:?}");
    let (capped, capped_launches, capped_bytes) = run(&device_with_texture_rows(64), &build, sizes);
    assert_eq!(capped_launches, ["matmul"]);
    assert_eq!(capped_bytes, storage_bytes, "no texture");
    assert_eq!(capped, storage);
    assert_close("bands", &textured, &storage);
}
