//! GELU (exact and tanh) and softmax against PyTorch's own float64 outputs
//! (tests/torch/activations.py wrote tests/torch/activations.txt), element by element, through
//! the graph, autodiff and the eager tensor API.

use shadergrad::nn::{Layer, Mode, Sequential};
use shadergrad::{Device, Graph, Plan, Tensor, autodiff};
use std::collections::HashMap;

fn fixture() -> HashMap<String, Vec<f64>> {
    include_str!("torch/activations.txt")
        .lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next().expect("a name").to_string();
            (name, words.map(|w| w.parse().expect("a number")).collect())
        })
        .collect()
}

/// The worst of |got − expected| / (|expected| + floor), with where it is.
fn worst(got: &[f32], expected: &[f64], floor: f64) -> (f64, usize) {
    assert_eq!(got.len(), expected.len());
    got.iter()
        .zip(expected)
        .map(|(&g, &e)| (g as f64 - e).abs() / (e.abs() + floor))
        .enumerate()
        .fold((0.0, 0), |(w, k), (i, err)| if err > w { (err, i) } else { (w, k) })
}

fn gelu_forward_and_gradient(tanh: bool) -> (Vec<f32>, Vec<f32>) {
    let device = Device::new().expect("an adapter");
    let x = fixture()["x"].iter().map(|&v| v as f32).collect::<Vec<_>>();
    let mut g = Graph::new();
    let input = g.param("x", &[x.len()]).unwrap();
    let y = if tanh { g.gelu_tanh(input) } else { g.gelu(input) }.unwrap();
    let loss = g.sum(y).unwrap();
    let grads = autodiff::gradients(&mut g, loss, None, &[input]).unwrap();
    let mut plan = Plan::compile(&device, &g, &[y, grads[0]]).unwrap();
    plan.write(input, &x).unwrap();
    let mut out = plan.run_and_read(&[y, grads[0]]).unwrap();
    let grad = out.pop().unwrap();
    (out.pop().unwrap(), grad)
}

/// The engine's f32 GELU is within 1e-6 of PyTorch's float64, relatively, down to values of
/// 1e-8 (x ≈ −5.7); below that the floor of 1e-8 judges it absolutely, since PyTorch computes
/// 1 + erf(x/√2), which cancels there even in float64 (the suite checks the tail against the
/// reference's erfc).
#[test]
fn gelu_matches_pytorch_to_f32_precision_across_both_tails() {
    let torch = fixture();
    for tanh in [false, true] {
        let suffix = if tanh { "_tanh" } else { "" };
        let (y, grad) = gelu_forward_and_gradient(tanh);
        // The gradient Φ(x) + xφ(x) cancels near its zero (x ≈ −0.75) from terms near 0.25, whose
        // f32 rounding is about 1e-8: it is judged relatively down to 0.1, absolutely below.
        // The tanh form's u = √(2/π)(x + 0.044715x³) is rounded in f32 before e^(2u): its left
        // tail is relatively good to about |2u|·2⁻²⁴ (2e-6 at x = −4.5), so below 1e-5 it is
        // judged absolutely.
        let tail = if tanh { 1e-5 } else { 1e-8 };
        for (what, got, expected, floor) in [
            ("forward", &y, &torch[&format!("gelu{suffix}")], tail),
            ("gradient", &grad, &torch[&format!("gelu{suffix}_grad")], 0.1),
        ] {
            let (error, k) = worst(got, expected, floor);
            assert!(
                error < 1e-6,
                "gelu{suffix} {what}: relative error {error:.2e} at x = {} (got {:e}, PyTorch {:e})",
                torch["x"][k],
                got[k],
                expected[k]
            );
        }
    }
}

#[test]
fn gelu_through_tensors_and_layers_is_the_graph_op() {
    let device = Device::new().expect("an adapter");
    let x = [-3.0f32, -0.5, 0.0, 0.5, 3.0];
    let t = Tensor::from_slice(&device, &[5], &x).unwrap();
    let eager = t.gelu().unwrap().to_vec().unwrap();
    // PyTorch: F.gelu(torch.tensor([-3, -0.5, 0, 0.5, 3], dtype=torch.float64)).
    let torch = [-0.00404969409489031f64, -0.15426876936299344, 0.0, 0.34573123063700656, 2.99595030590511];
    for (got, want) in eager.iter().zip(torch) {
        assert!((*got as f64 - want).abs() <= 1e-6 * want.abs().max(1e-3), "Tensor::gelu: {eager:?} vs {torch:?}");
    }
    let mut in_place = Tensor::from_slice(&device, &[5], &x).unwrap();
    in_place.gelu_tanh_().unwrap();
    assert_eq!(in_place.to_vec().unwrap(), t.gelu_tanh().unwrap().to_vec().unwrap());

    let model = Sequential::new(vec![Layer::GELU]);
    let mut g = Graph::new();
    let input = g.input("x", &[5]).unwrap();
    let y = shadergrad::nn::build(&model, &mut g, input, Mode::Eval, 0, "").unwrap();
    let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
    plan.write(input, &x).unwrap();
    assert_eq!(plan.run_and_read(&[y]).unwrap()[0], eager);
}

/// Logits near 48: softmax as exp(x − m) / s keeps every probability within 1e-6 of PyTorch's
/// float64, relatively (exp(x − (m + log s)) was 5e-6 off), and log-softmax too.
#[test]
fn softmax_of_large_logits_matches_pytorch_float64() {
    let torch = fixture();
    let device = Device::new().expect("an adapter");
    let logits = torch["logits"].iter().map(|&v| v as f32).collect::<Vec<_>>();
    let mut g = Graph::new();
    let x = g.input("logits", &[8, 10]).unwrap();
    let p = g.softmax(x).unwrap();
    let logp = g.log_softmax(x).unwrap();
    let mut plan = Plan::compile(&device, &g, &[p, logp]).unwrap();
    plan.write(x, &logits).unwrap();
    let out = plan.run_and_read(&[p, logp]).unwrap();
    let (error, k) = worst(&out[0], &torch["softmax"], 0.0);
    assert!(error < 1e-6, "softmax: relative error {error:.2e} at {k} ({} vs {})", out[0][k], torch["softmax"][k]);
    let (error, k) = worst(&out[1], &torch["log_softmax"], 1.0);
    assert!(error < 1e-6, "log_softmax: error {error:.2e} at {k} ({} vs {})", out[1][k], torch["log_softmax"][k]);
}
