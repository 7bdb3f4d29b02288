//! Bad input gets a clear error naming what is wrong, never a panic (the rows of the README's
//! table not covered by the data, checkpoint and recipe tests).

use shadergrad::Graph;
use shadergrad::nn::{Layer, Mode, Sequential, build};

#[test]
fn a_model_that_does_not_fit_its_input_names_the_layer_and_both_shapes() {
    let model = Sequential::new(vec![
        Layer::Linear { inputs: 784, outputs: 32, bias: true },
        Layer::RELU,
        Layer::Linear { inputs: 64, outputs: 10, bias: true },
    ]);
    let mut g = Graph::new();
    let x = g.input("x", &[8, 784]).unwrap();
    let err = build(&model, &mut g, x, Mode::Train, 0, "").unwrap_err().to_string();
    assert!(
        err.contains("matmul")
            && err.contains("[8, 32]")
            && err.contains("[10, 64]")
            && err.contains("in module `2`: Linear(in_features=64, out_features=10, bias=True)"),
        "{err}"
    );
}

#[test]
fn unknown_flags_and_recipes_fail_with_a_message_and_no_panic() {
    let bin = env!("CARGO_BIN_EXE_shadergrad");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let out = run(&["train", "linear-regression", "--learning-rate", "3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--learning-rate"));
    let out = run(&["train", "nope"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown recipe 'nope'") && !stderr.contains("panicked"), "{stderr}");
    let out = run(&["train", "linear-regression", "--init", "glorot"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("xavier"), "the error lists the accepted inits");
    let out = run(&["eval", "--model", "/nonexistent/model.safetensors"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("/nonexistent/model.safetensors"), "{stderr}");
}

#[test]
fn a_filter_that_picks_no_check_or_bench_case_fails_listing_the_names() {
    let bin = env!("CARGO_BIN_EXE_shadergrad");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let out = run(&["check", "--op", "nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "picking nothing is not a pass");
    assert!(stderr.contains("no op's name contains 'nope'") && stderr.contains("max_pool2d, avg_pool2d"), "{stderr}");
    let out = run(&["bench", "--only", "nope", "--quick"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "timing nothing is not a run");
    assert!(stderr.contains("no case is picked") && stderr.contains("matmul_256, matmul_512, conv2d"), "{stderr}");
}

#[test]
fn a_bad_setting_in_the_environment_names_the_variable_and_what_it_takes() {
    let bin = env!("CARGO_BIN_EXE_shadergrad");
    for (variable, value, takes) in [
        ("SHADERGRAD_KERNELS", "cpu", "software or gpu"),
        ("SHADERGRAD_MATMUL", "fast", "tiled or tiled-large"),
        ("SHADERGRAD_BACKEND", "cuda", "vulkan, metal, dx12, gl"),
    ] {
        let out = std::process::Command::new(bin).arg("devices").env(variable, value).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{variable}={value} was taken");
        assert!(stderr.contains(variable) && stderr.contains(value) && stderr.contains(takes), "{stderr}");
    }
}
