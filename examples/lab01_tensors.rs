//! Lab 01, tensor manipulation, in order: every operation runs on the GPU and prints what the
//! course's PyTorch notebook prints (`{t:#}` prints values as `print(t)` does; `{t}` adds the
//! shape and device). Indices from max/argmax are f32 here (`tensor([1., 1.])`) where PyTorch
//! prints integers.
//!
//! Run: `cargo run --release --example lab01_tensors`

use shadergrad::{Device, Result, Tensor};

// `4..-1` is Python's `4:-1` here (a negative end counts from the end), not an empty range.
#[allow(clippy::reversed_empty_ranges)]
fn main() -> Result<()> {
    let device = Device::new()?;
    let tensor = |dims: &[usize], values: &[f32]| Tensor::from_slice(&device, dims, values);

    println!("# 1-D");
    let t = tensor(&[7], &[0., 1., 2., 3., 4., 5., 6.])?;
    println!("{t}");
    println!("{}", t.rank()); // rank
    println!("{:?}", t.dims()); // shape
    println!("{:#} {:#} {:#}", t.index(0)?, t.index(1)?, t.index(-1)?); // elements
    println!("{:#} {:#}", t.slice(0, 2..5)?, t.slice(0, 4..-1)?); // slicing
    println!("{:#} {:#}", t.slice(0, ..2)?, t.slice(0, 3..)?);

    println!("\n# 2-D");
    let t = tensor(&[4, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.])?;
    println!("{t:#}");
    println!("{}", t.rank());
    println!("{:?}", t.dims());
    println!("{:#}", t.select(1, 1)?); // t[:, 1]
    println!("{:?}", t.select(1, 1)?.dims());
    println!("{:#}", t.slice(1, ..-1)?); // t[:, :-1]

    println!("\n# Shape, rank, axis");
    let values: Vec<f32> = (1..=24).map(|v| v as f32).collect();
    let t = tensor(&[1, 2, 3, 4], &values)?;
    println!("{}", t.rank());
    println!("{:?}", t.dims());

    println!("\n# Broadcasting");
    let (m1, m2) = (tensor(&[1, 2], &[3., 3.])?, tensor(&[1, 2], &[2., 2.])?);
    println!("{:#}", m1.add(&m2)?);
    let (m1, m2) = (tensor(&[1, 2], &[1., 2.])?, tensor(&[1], &[3.])?); // 3 → [[3, 3]]
    println!("{:#}", m1.add(&m2)?);
    let (m1, m2) = (tensor(&[1, 2], &[1., 2.])?, tensor(&[2, 1], &[3., 4.])?);
    println!("{:#}", m1.add(&m2)?);

    println!("\n# Mul vs matmul");
    let (m1, m2) = (tensor(&[2, 2], &[1., 2., 3., 4.])?, tensor(&[2, 1], &[1., 2.])?);
    println!("Shape of Matrix 1:  {:?}", m1.dims());
    println!("Shape of Matrix 2:  {:?}", m2.dims());
    println!("{:#}", m1.matmul(&m2)?); // 2 × 1
    println!("{:#}", m1.mul(&m2)?); // 2 × 2, broadcast
    println!("{:#}", m1.mul(&m2)?);

    println!("\n# Mean");
    println!("{:#}", tensor(&[2], &[1., 2.])?.mean()?);
    let t = tensor(&[2, 2], &[1., 2., 3., 4.])?;
    println!("{t:#}");
    println!("{:#}", t.mean()?);
    println!("{:#}", t.mean_dim(0, false)?);
    println!("{:#}", t.mean_dim(1, false)?);
    println!("{:#}", t.mean_dim(-1, false)?);

    println!("\n# Sum");
    println!("{:#}", t.sum()?);
    println!("{:#}", t.sum_dim(0, false)?);
    println!("{:#}", t.sum_dim(1, false)?);
    println!("{:#}", t.sum_dim(-1, false)?);

    println!("\n# Max and argmax");
    println!("{t:#}");
    println!("{:#}", t.max()?); // one value: the max
    let (values, indices) = t.max_dim(0, false)?; // two: max and argmax
    println!("max(values={values:#}, indices={indices:#})");
    println!("Max:  {values:#}");
    println!("Argmax:  {indices:#}");
    for axis in [1, -1] {
        let (values, indices) = t.max_dim(axis, false)?;
        println!("max(values={values:#}, indices={indices:#})");
    }

    println!("\n# View");
    let values: Vec<f32> = (0..12).map(|v| v as f32).collect();
    let ft = tensor(&[2, 2, 3], &values)?;
    println!("{:?}", ft.dims());
    println!("{:#}", ft.view(&[-1, 3])?);
    println!("{:?}", ft.view(&[-1, 3])?.dims());
    println!("{:#}", ft.view(&[-1, 1, 3])?);
    println!("{:?}", ft.view(&[-1, 1, 3])?.dims());

    println!("\n# Squeeze");
    let ft = tensor(&[3, 1], &[0., 1., 2.])?;
    println!("{ft:#}");
    println!("{:?}", ft.dims());
    println!("{:#}", ft.squeeze(None)?);
    println!("{:?}", ft.squeeze(None)?.dims());

    println!("\n# Unsqueeze");
    let ft = tensor(&[3], &[0., 1., 2.])?;
    println!("{:?}", ft.dims());
    for (label, t) in [
        ("unsqueeze(0)", ft.unsqueeze(0)?),
        ("view(1, -1)", ft.view(&[1, -1])?),
        ("unsqueeze(1)", ft.unsqueeze(1)?),
        ("unsqueeze(-1)", ft.unsqueeze(-1)?),
    ] {
        println!("{t:#}  <- {label}");
        println!("{:?}", t.dims());
    }

    println!("\n# One-hot (the course's scatter_)");
    let lt = Tensor::from_ints(&device, &[4], &[0, 1, 2, 0])?;
    println!("{lt:#}");
    println!("{:#}", lt.one_hot(3)?);

    println!("\n# Casting");
    let lt = Tensor::from_ints(&device, &[4], &[1, 2, 3, 4])?;
    println!("{lt:#}");
    let bt = Tensor::from_bools(&device, &[4], &[true, false, false, true])?;
    println!("{bt:#}");

    println!("\n# Concatenation");
    let (x, y) = (tensor(&[2, 2], &[1., 2., 3., 4.])?, tensor(&[2, 2], &[5., 6., 7., 8.])?);
    println!("{:#}", Tensor::cat(&[&x, &y], 0)?);
    println!("{:#}", Tensor::cat(&[&x, &y], 1)?);

    println!("\n# Stacking");
    let (x, y, z) = (tensor(&[2], &[1., 4.])?, tensor(&[2], &[2., 5.])?, tensor(&[2], &[3., 6.])?);
    println!("{:#}", Tensor::stack(&[&x, &y, &z], 0)?);
    println!("{:#}", Tensor::stack(&[&x, &y, &z], 1)?);
    let lifted = [x.unsqueeze(0)?, y.unsqueeze(0)?, z.unsqueeze(0)?];
    println!("{:#}", Tensor::cat(&[&lifted[0], &lifted[1], &lifted[2]], 0)?);

    println!("\n# Ones and zeros like");
    let x = tensor(&[2, 3], &[0., 1., 2., 2., 1., 0.])?;
    println!("{x:#}");
    println!("{:#}", x.ones_like()?);
    println!("{:#}", x.zeros_like()?);

    println!("\n# In-place operation");
    let mut x = tensor(&[2, 2], &[1., 2., 3., 4.])?;
    println!("{:#}", x.mul_scalar(2.0)?);
    println!("{x:#}");
    println!("{:#}", x.mul_scalar_(2.0)?);
    println!("{x:#}");
    println!("\n{x}");
    Ok(())
}
