//! Lab 02 in the course's low-level style: W and b as parameters, the cost written out, the
//! gradient from autodiff, and the SGD step, all compiled into one plan (one submit a step).
//!
//! Run: `cargo run --release --example lab02_linear_regression`

use shadergrad::{Device, Graph, Plan, autodiff};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::new()?;
    let mut g = Graph::new();
    let x_train = g.input("x_train", &[3, 1])?;
    let y_train = g.input("y_train", &[3, 1])?;
    let w = g.param("W", &[1, 1])?; // zeros until written, as torch.zeros(1)
    let b = g.param("b", &[1])?;
    let xw = g.matmul(x_train, w)?;
    let hypothesis = g.add(xw, b)?;
    let cost = g.mse(hypothesis, y_train)?;
    let grads = autodiff::gradients(&mut g, cost, None, &[w, b])?;
    g.sgd_update(w, grads[0], 0.01)?;
    g.sgd_update(b, grads[1], 0.01)?;

    let mut plan = Plan::compile(&device, &g, &[cost])?;
    plan.write(x_train, &[1.0, 2.0, 3.0])?;
    plan.write(y_train, &[1.0, 2.0, 3.0])?;
    let nb_epochs = 1000;
    for epoch in 0..=nb_epochs {
        if epoch % 100 == 0 {
            // The cost is read before this epoch's update, as the course prints it.
            let c = plan.run_and_read(&[cost])?[0][0];
            println!("Epoch {epoch:4}/{nb_epochs} W: {:.3}, b: {:.3} Cost: {c:.6}", plan.read(w)?[0], plan.read(b)?[0]);
        } else {
            plan.run()?;
        }
    }
    Ok(())
}
