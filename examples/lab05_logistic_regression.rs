//! Lab 05 in the course's low-level style on the diabetes data: H(x) = sigmoid(x·W + b), the
//! binary cross-entropy written as the cost, SGD with lr 1; accuracy read at the end.
//!
//! Run: `cargo run --release --example lab05_logistic_regression`

use shadergrad::data::csv;
use shadergrad::{Device, Graph, Plan, autodiff};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::new()?;
    let table = csv::shipped("data-03-diabetes.csv").ok_or("data-03-diabetes.csv is not shipped")??;
    let (n, features) = (table.rows, table.cols - 1);

    let mut g = Graph::new();
    let x_train = g.input("x_train", &[n, features])?;
    let y_train = g.input("y_train", &[n, 1])?;
    let w = g.param("W", &[features, 1])?; // zeros until written, as torch.zeros((8, 1))
    let b = g.param("b", &[1])?;
    let xw = g.matmul(x_train, w)?;
    let z = g.add(xw, b)?;
    let hypothesis = g.sigmoid(z)?;
    let cost = g.bce(hypothesis, y_train)?;
    let grads = autodiff::gradients(&mut g, cost, None, &[w, b])?;
    g.sgd_update(w, grads[0], 1.0)?;
    g.sgd_update(b, grads[1], 1.0)?;

    let mut plan = Plan::compile(&device, &g, &[cost, hypothesis])?;
    plan.write(x_train, &table.columns(0..features))?;
    let y = table.columns(features..features + 1);
    plan.write(y_train, &y)?;
    let nb_epochs = 100;
    for epoch in 0..=nb_epochs {
        if epoch % 10 == 0 {
            let read = plan.run_and_read(&[cost, hypothesis])?;
            // The hypothesis was computed before this step's update, as the cost was.
            let correct = read[1].iter().zip(&y).filter(|(h, t)| ((**h >= 0.5) as u8 as f32) == **t).count();
            let accuracy = 100.0 * correct as f32 / n as f32;
            println!("Epoch {epoch:4}/{nb_epochs} Cost: {:.6} Accuracy {accuracy:2.2}%", read[0][0]);
        } else {
            plan.run()?;
        }
    }
    Ok(())
}
