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

#[test]
fn a_tensor_past_the_storage_binding_limit_is_a_named_error() {
    let options = DeviceOptions { cap_storage_binding_size: Some(4096), ..DeviceOptions::from_env().unwrap() };
    let device = Device::with_options(&options).expect("an adapter");
    let mut g = Graph::new();
    let x = g.input("x", &[16, 16]).unwrap(); // 1 KiB: fits
    let y = g.matmul_t(x, x, false, true).unwrap();
    let wide = g.reshape(y, &[256]).unwrap();
    let outer = g.input("o", &[8, 1]).unwrap();
    let big = g.mul(outer, wide).unwrap(); // [8, 256] = 8 KiB: does not fit
    let err = Plan::compile(&device, &g, &[big]).err().expect("compile must fail").to_string();
    assert!(
        err.contains("max_storage_buffer_binding_size") && err.contains("[8, 256]") && err.contains("mul"),
        "{err}"
    );
}

#[test]
fn both_matmul_variants_pass_the_matmul_checks() {
    use shadergrad::kernels::matmul::MatmulVariant;
    for variant in [MatmulVariant::RegisterBlocked, MatmulVariant::Tiled] {
        let options = DeviceOptions { matmul: Some(variant), ..DeviceOptions::from_env().unwrap() };
        let device = Device::with_options(&options).expect("an adapter");
        assert_eq!(device.matmul_variant(), variant);
        let reports = run_suite(&device, 5, Some("matmul")).unwrap();
        assert!(reports.len() >= 16);
        let failures: Vec<String> = reports.iter().filter(|r| !r.passed()).map(describe_failure).collect();
        assert!(failures.is_empty(), "{variant:?}:\n{}", failures.join("\n"));
    }
}

#[test]
fn software_adapters_default_to_register_blocking() {
    let device = Device::new().expect("an adapter");
    if device.is_software() && std::env::var("SHADERGRAD_MATMUL").is_err() {
        assert_eq!(device.matmul_variant(), shadergrad::kernels::matmul::MatmulVariant::RegisterBlocked);
    }
}
