//! Optimizer steps, with PyTorch's formulas.

use crate::ir::ops::optim::Optimizer;

/// One step at step number `t` (1 for the first) of `opt` on `param`, given its gradient
/// and its states (in the order [`Optimizer::states`] names them).
pub fn step(opt: &Optimizer, param: &mut [f64], grad: &[f64], states: &mut [Vec<f64>], t: u64) {
    for i in 0..param.len() {
        let p = param[i];
        match *opt {
            Optimizer::Sgd { lr, momentum, nesterov, weight_decay } => {
                let g = grad[i] + weight_decay as f64 * p;
                let direction = if momentum == 0.0 {
                    g
                } else {
                    let v = momentum as f64 * states[0][i] + g;
                    states[0][i] = v;
                    if nesterov { g + momentum as f64 * v } else { v }
                };
                param[i] = p - lr as f64 * direction;
            }
            Optimizer::Adam { lr, beta1, beta2, eps, weight_decay } => {
                let (b1, b2) = (beta1 as f64, beta2 as f64);
                let g = grad[i] + weight_decay as f64 * p;
                let m = b1 * states[0][i] + (1.0 - b1) * g;
                let v = b2 * states[1][i] + (1.0 - b2) * g * g;
                states[0][i] = m;
                states[1][i] = v;
                let m_hat = m / (1.0 - b1.powi(t as i32));
                let v_hat = v / (1.0 - b2.powi(t as i32));
                param[i] = p - lr as f64 * m_hat / (v_hat.sqrt() + eps as f64);
            }
            Optimizer::Adagrad { lr, eps, weight_decay } => {
                let g = grad[i] + weight_decay as f64 * p;
                let sum = states[0][i] + g * g;
                states[0][i] = sum;
                param[i] = p - lr as f64 * g / (sum.sqrt() + eps as f64);
            }
        }
    }
}

/// The gradients scaled by min(1, max_norm / (‖g‖ + 1e-6)), ‖g‖ the L2 norm over all of them
/// (PyTorch's `clip_grad_norm_`).
pub fn clip_grad_norm(grads: &mut [Vec<f64>], max_norm: f64) {
    let norm = grads.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
    let coefficient = (max_norm / (norm + 1e-6)).min(1.0);
    grads.iter_mut().flatten().for_each(|v| *v *= coefficient);
}
