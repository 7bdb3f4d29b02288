//! Adapter choice, tensors, and adapter limits.

use shadergrad::check::{describe_failure, run_suite};
use shadergrad::{Device, DeviceOptions, Error, Graph, Plan, Tensor};

#[test]
fn no_matching_adapter_says_how_to_get_lavapipe() {
    let options = DeviceOptions { adapter_name: Some("no-such-adapter-anywhere".into()), ..Default::default() };
    let err = Device::with_options(&options).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::NoAdapter { .. }), "{text}");
    assert!(
        text.contains("no-such-adapter-anywhere") && text.contains("apt-get install mesa-vulkan-drivers"),
        "{text}"
    );
}

#[test]
fn tensors_of_every_rank_round_trip() {
    let device = Device::new().expect("an adapter");
    for dims in [&[][..], &[7], &[3, 33], &[2, 3, 5], &[2, 3, 4, 5]] {
        let n: usize = dims.iter().product();
        let values: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
        let t = Tensor::from_slice(&device, dims, &values).unwrap();
        assert_eq!(t.shape().dims(), dims);
        assert_eq!(t.to_vec().unwrap(), values);
    }
    let err = Tensor::from_slice(&device, &[2, 2], &[1.0; 3]).unwrap_err().to_string();
    assert!(err.contains("[2, 2]") && err.contains('4') && err.contains('3'), "{err}");
    assert!(Tensor::from_slice(&device, &[1, 2, 3, 4, 5], &[0.0; 120]).is_err(), "rank 5 is refused");
}

#[test]
fn every_op_is_right_when_grids_must_fold_past_a_small_workgroup_limit() {
    // With at most 8 workgroups per dimension, every launch of the suite beyond 8 workgroups
    // folds into y and z; the results must not change.
    let options = DeviceOptions { cap_workgroups_per_dimension: Some(8), ..DeviceOptions::from_env().unwrap() };
    let device = Device::with_options(&options).expect("an adapter");
    assert_eq!(device.limits().max_compute_workgroups_per_dimension, 8);
    let reports = run_suite(&device, 99, None).unwrap();
    let failures: Vec<String> = reports.iter().filter(|r| !r.passed()).map(describe_failure).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A device that binds at most 4 KiB of a buffer at once.
fn tiny_binding_device() -> Device {
    let options = DeviceOptions { cap_storage_binding_size: Some(4096), ..DeviceOptions::from_env().unwrap() };
    let device = Device::with_options(&options).expect("an adapter");
    assert_eq!(device.limits().max_storage_buffer_binding_size, 4096);
    device
}

#[test]
fn tensors_past_the_storage_binding_limit_are_split_and_stay_right() {
    // A training step of a small MLP on a batch whose activations are 4× the binding limit:
    // matmuls split by rows and (for the weight gradients) along k with accumulation,
    // elementwise ops and the Adam update split by rows.
    let mut g = Graph::new();
    let x = g.input("x", &[256, 16]).unwrap(); // 16 KiB
    let w1 = g.param("w1", &[16, 64]).unwrap();
    let b1 = g.param("b1", &[64]).unwrap();
    let w2 = g.param("w2", &[64, 8]).unwrap();
    let h = g.matmul(x, w1).unwrap();
    let h = g.add(h, b1).unwrap();
    let h = g.tanh(h).unwrap();
    let y = g.matmul(h, w2).unwrap();
    let s = g.softmax(y).unwrap();
    let seed = g.input("seed", &[256, 8]).unwrap();
    let grads = shadergrad::ir::autodiff::gradients(&mut g, s, Some(seed), &[w1, w2]).unwrap();
    let mut outputs = vec![s];
    outputs.extend(&grads);
    let values = |n: usize, f: f32| (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect::<Vec<f32>>();
    let (xs, w1s, b1s, w2s, seeds) =
        (values(4096, 0.37), values(1024, 0.71), values(64, 1.3), values(512, 0.53), values(2048, 0.29));
    let mut results = Vec::new();
    for device in [tiny_binding_device(), Device::with_options(&DeviceOptions::from_env().unwrap()).unwrap()] {
        let mut plan = Plan::compile(&device, &g, &outputs).unwrap();
        plan.write(x, &xs).unwrap();
        plan.write(w1, &w1s).unwrap();
        plan.write(b1, &b1s).unwrap();
        plan.write(w2, &w2s).unwrap();
        plan.write(seed, &seeds).unwrap();
        results.push((plan.run_and_read(&outputs).unwrap(), plan.launches()));
    }
    let ((split, split_launches), (whole, whole_launches)) = (&results[0], &results[1]);
    assert!(split_launches > whole_launches, "the capped plan splits launches ({split_launches} vs {whole_launches})");
    for (k, (a, b)) in split.iter().zip(whole).enumerate() {
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!((p - q).abs() <= 1e-5 * q.abs().max(1.0), "output {k}[{i}]: split {p} vs whole {q}");
        }
    }
}

#[test]
fn a_first_conv_layer_past_the_binding_limit_is_split_and_stays_right() {
    // Images of 1 × 10 × 10 into 4 filters of 3×3 with bias and ReLU: 1.6 KB of output an
    // image, so a 4 KiB binding takes two. Software adapters run the convolution as the
    // direct kernel (conv2d_taps) in launches of two images, the bias and ReLU apart (fused,
    // they would bind the whole output); others as im2col and a product.
    let mut g = Graph::new();
    let x = g.input("x", &[12, 1, 10, 10]).unwrap();
    let w = g.input("w", &[4, 1, 3, 3]).unwrap();
    let b = g.input("b", &[1, 4, 1, 1]).unwrap();
    let conv = g.conv2d(x, w, [1, 1], [1, 1]).unwrap();
    let biased = g.add(conv, b).unwrap();
    let y = g.relu(biased).unwrap();
    let values = |n: usize, f: f32| (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect::<Vec<f32>>();
    let mut results = Vec::new();
    for device in [tiny_binding_device(), Device::with_options(&DeviceOptions::from_env().unwrap()).unwrap()] {
        let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
        plan.write(x, &values(1200, 0.37)).unwrap();
        plan.write(w, &values(36, 0.71)).unwrap();
        plan.write(b, &values(4, 1.3)).unwrap();
        results.push((plan.run_and_read(&[y]).unwrap().remove(0), plan.launches()));
    }
    let ((split, split_launches), (whole, whole_launches)) = (&results[0], &results[1]);
    assert!(split_launches > whole_launches, "the capped plan splits launches ({split_launches} vs {whole_launches})");
    for (i, (p, q)) in split.iter().zip(whole).enumerate() {
        assert!((p - q).abs() <= 1e-6 * q.abs().max(1.0), "element {i}: split {p} vs whole {q}");
    }
    assert!(whole.contains(&0.0) && whole.iter().any(|&v| v > 0.0), "the ReLU clips some outputs");
}

#[test]
fn optimizer_updates_past_the_binding_limit_are_split_and_stay_right() {
    use shadergrad::ir::ops::optim::Optimizer;
    let mut g = Graph::new();
    let p = g.param("p", &[8192]).unwrap(); // 32 KiB, 8 parts of 4 KiB
    let grad = g.input("grad", &[8192]).unwrap();
    g.optimizer_update(p, grad, Optimizer::adam(0.01)).unwrap();
    let mut finals = Vec::new();
    for device in [tiny_binding_device(), Device::with_options(&DeviceOptions::from_env().unwrap()).unwrap()] {
        let mut plan = Plan::compile(&device, &g, &[p]).unwrap();
        plan.write(p, &(0..8192).map(|i| (i as f32 * 0.01).cos()).collect::<Vec<_>>()).unwrap();
        for step in 0..3 {
            plan.write(grad, &(0..8192).map(|i| ((i + step) as f32 * 0.3).sin()).collect::<Vec<_>>()).unwrap();
            plan.run().unwrap();
        }
        finals.push(plan.read(p).unwrap());
    }
    assert_eq!(finals[0], finals[1], "the same arithmetic, element for element");
}

#[test]
fn reductions_losses_and_dropout_past_the_binding_limit_are_split_and_stay_right() {
    use shadergrad::ir::autodiff::gradients;
    let mut g = Graph::new();
    let x = g.input("x", &[512, 10]).unwrap(); // 20 KiB
    let labels = g.input("labels", &[512]).unwrap();
    let sum0 = g.sum_axes(x, &[0], false).unwrap(); // the leading axis: chunks accumulate
    let max0 = g.max_axes(x, &[0], false).unwrap();
    let mean1 = g.mean_axes(x, &[1], false).unwrap(); // rows stay whole: chunks of rows
    let dropped = g.dropout(x, 0.3, 9).unwrap();
    let ce = g.cross_entropy(x, labels).unwrap();
    let dx = gradients(&mut g, ce, None, &[x]).unwrap()[0];
    let outputs = [sum0, max0, mean1, dropped, ce, dx];
    let xs: Vec<f32> = (0..5120).map(|i| (i as f32 * 0.77).sin() * 3.0).collect();
    let ls: Vec<f32> = (0..512).map(|i| (i * 7 % 10) as f32).collect();
    let mut results = Vec::new();
    for device in [tiny_binding_device(), Device::with_options(&DeviceOptions::from_env().unwrap()).unwrap()] {
        let mut plan = Plan::compile(&device, &g, &outputs).unwrap();
        plan.write(x, &xs).unwrap();
        plan.write(labels, &ls).unwrap();
        results.push(plan.run_and_read(&outputs).unwrap());
    }
    let names = ["sum over axis 0", "max over axis 0", "mean over axis 1", "dropout", "cross-entropy", "its gradient"];
    for ((name, split), whole) in names.iter().zip(&results[0]).zip(&results[1]) {
        for (i, (p, q)) in split.iter().zip(whole).enumerate() {
            assert!((p - q).abs() <= 1e-5 * q.abs().max(1.0), "{name}[{i}]: split {p} vs whole {q}");
        }
    }
}

#[test]
fn what_cannot_be_split_is_a_named_error() {
    // An argmax over the leading axis of a tensor past the limit: the chunks' answers cannot
    // be combined without their values.
    let device = tiny_binding_device();
    let mut g = Graph::new();
    let x = g.input("x", &[8, 256]).unwrap(); // 8 KiB
    let y = g.argmax_axes(x, &[0], false).unwrap();
    let err = Plan::compile(&device, &g, &[y]).err().expect("compile must fail").to_string();
    assert!(
        err.contains("max_storage_buffer_binding_size") && err.contains("[8, 256]") && err.contains("argmax"),
        "{err}"
    );
}

#[test]
fn every_matmul_variant_passes_the_matmul_checks() {
    use shadergrad::backend::kernels::matmul::MatmulVariant;
    // The large blocks are forced onto the suite's small shapes, so their edges are checked;
    // the storage-reading blocks run the cases in fours too (software adapters read those
    // from textures by default).
    for variant in [
        MatmulVariant::RegisterBlocked,
        MatmulVariant::RegisterBlockedLarge,
        MatmulVariant::Tiled,
        MatmulVariant::TiledLarge,
        MatmulVariant::Textured,
        MatmulVariant::TexturedSubgroups,
    ] {
        let options = DeviceOptions { matmul: Some(variant), ..DeviceOptions::from_env().unwrap() };
        let device = match Device::with_options(&options) {
            Ok(device) => device,
            // Only lavapipe on 256-bit vectors has subgroups of eight (not the GL adapter).
            Err(e) if variant == MatmulVariant::TexturedSubgroups => {
                let message = e.to_string();
                assert!(message.contains("subgroups of exactly 8"), "{message}");
                continue;
            }
            Err(e) => panic!("an adapter: {e}"),
        };
        assert_eq!(device.matmul_variant(), variant);
        let reports = run_suite(&device, 5, Some("matmul")).unwrap();
        assert!(reports.len() >= 16);
        let failures: Vec<String> = reports.iter().filter(|r| !r.passed()).map(describe_failure).collect();
        assert!(failures.is_empty(), "{variant:?}:\n{}", failures.join("\n"));
    }
}

#[test]
fn software_adapters_default_to_register_blocking_from_textures() {
    let device = Device::new().expect("an adapter");
    if device.is_software() && std::env::var("SHADERGRAD_MATMUL").is_err() {
        use shadergrad::backend::kernels::matmul::MatmulVariant;
        let info = device.info();
        let eight_lanes = MatmulVariant::TexturedSubgroups.runs_on(device.wgpu_device().features(), info);
        let expected = if eight_lanes { MatmulVariant::TexturedSubgroups } else { MatmulVariant::Textured };
        assert_eq!(device.matmul_variant(), expected);
    }
}

#[test]
fn a_lost_device_is_an_error_not_a_hang_or_a_panic() {
    let device = Device::with_options(&DeviceOptions::from_env().unwrap()).expect("an adapter");
    let mut g = Graph::new();
    let x = g.input("x", &[64]).unwrap();
    let y = g.relu(x).unwrap();
    let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
    plan.write(x, &[1.0; 64]).unwrap();
    plan.run().unwrap();
    device.wgpu_device().destroy();
    let _ = device.wgpu_device().poll(wgpu::PollType::Poll);
    let err = plan.run_and_read(&[y]).unwrap_err();
    assert!(matches!(err, Error::DeviceLost { .. }), "{err}");
    assert!(err.to_string().contains("lost"), "{err}");
}

#[test]
fn compiled_pipelines_are_kept_on_disk_and_a_damaged_cache_file_is_ignored() {
    let dir = std::env::temp_dir().join(format!("shadergrad-pipelines-{}", std::process::id()));
    let options = DeviceOptions { pipeline_cache_dir: Some(dir.clone()), ..DeviceOptions::from_env().unwrap() };
    let run = |options: &DeviceOptions| {
        let device = Device::with_options(options).unwrap();
        let mut g = Graph::new();
        let x = g.input("x", &[4]).unwrap();
        let y = g.relu(x).unwrap();
        let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
        plan.write(x, &[-1.0, 2.0, -3.0, 4.0]).unwrap();
        assert_eq!(plan.run_and_read(&[y]).unwrap()[0], [0.0, 2.0, 0.0, 4.0]);
        device
    };
    let device = run(&options);
    if !device.has_pipeline_cache() {
        // Only Vulkan adapters have wgpu's pipeline cache; nothing is written elsewhere.
        assert!(!dir.exists());
        return;
    }
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one cache file for the adapter: {files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    assert!(bytes.starts_with(b"SGPCACHE") && bytes.len() > 20);
    // A second run reads it back; a damaged file only costs the compile.
    run(&options);
    std::fs::write(&files[0], &bytes[..bytes.len() - 1]).unwrap();
    run(&options);
    std::fs::write(&files[0], b"not a cache").unwrap();
    run(&options);
    std::fs::remove_dir_all(&dir).unwrap();
}
