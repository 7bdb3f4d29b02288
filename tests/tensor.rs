//! Eager tensors: each operation, run on the GPU through its one-op plan on the tensors' own
//! buffers, against the CPU reference on random shapes that span several workgroups; views
//! and in-place ops; errors.

use shadergrad::ir::ops::elementwise::ElementwiseOp;
use shadergrad::reference::{Array, elementwise as ew, layout, matmul, reduce};
use shadergrad::rng::Rng;
use shadergrad::{Device, Tensor};

fn device() -> Device {
    Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

fn random(rng: &mut Rng, dims: &[usize]) -> Array {
    Array::new(dims, (0..dims.iter().product()).map(|_| rng.nonzero() as f32 as f64).collect())
}

fn upload(device: &Device, a: &Array) -> Tensor {
    Tensor::from_slice(device, &a.dims, &a.to_f32()).unwrap()
}

/// Asserts that `got` has `want`'s dims and values (relative tolerance `tol`), naming the
/// operation and the worst element.
fn same(op: &str, got: &Tensor, want: &Array, tol: f64) {
    assert_eq!(got.dims(), want.dims.as_slice(), "{op}: dims");
    let values = got.to_vec().unwrap();
    let (worst, at) = values
        .iter()
        .zip(&want.data)
        .enumerate()
        .map(|(i, (&g, &w))| ((g as f64 - w).abs() / w.abs().max(1.0), i))
        .fold((0.0, 0), |b, x| if x.0 > b.0 { x } else { b });
    assert!(
        worst <= tol,
        "{op} {:?}: element {at} is {} but the reference has {}",
        want.dims,
        values[at],
        want.data[at]
    );
}

#[test]
fn arithmetic_broadcasts_and_matmul_match_the_reference() {
    let device = device();
    let mut rng = Rng::new(11);
    let n = rng.range(300, 700);
    let pairs: [(&[usize], &[usize]); 4] =
        [(&[n, 3], &[n, 3]), (&[n, 1], &[1, 5]), (&[3, 7, 9, 11], &[7, 1, 1]), (&[n], &[1])];
    for (da, db) in pairs {
        let (a, b) = (random(&mut rng, da), random(&mut rng, db));
        let (ta, tb) = (upload(&device, &a), upload(&device, &b));
        same("add", &ta.add(&tb).unwrap(), &ew::binary(ElementwiseOp::Add, 0.0, &a, &b), 1e-6);
        same("sub", &ta.sub(&tb).unwrap(), &ew::binary(ElementwiseOp::Sub, 0.0, &a, &b), 1e-6);
        same("mul", &ta.mul(&tb).unwrap(), &ew::binary(ElementwiseOp::Mul, 0.0, &a, &b), 1e-6);
        same("div", &ta.div(&tb).unwrap(), &ew::binary(ElementwiseOp::Div, 0.0, &a, &b), 1e-6);
    }
    let a = random(&mut rng, &[n, 9]);
    let scaled = Array::new(&a.dims, a.data.iter().map(|v| v * -2.5 + 0.5).collect());
    same("scalar ops", &upload(&device, &a).mul_scalar(-2.5).unwrap().add_scalar(0.5).unwrap(), &scaled, 1e-6);
    let relu = Array::new(&a.dims, a.data.iter().map(|v| v.max(0.0)).collect());
    same("relu", &upload(&device, &a).relu().unwrap(), &relu, 0.0);
    let (m, k, p) = (rng.range(33, 90), rng.range(33, 90), rng.range(33, 90));
    let (x, y) = (random(&mut rng, &[m, k]), random(&mut rng, &[k, p]));
    same(
        "matmul",
        &upload(&device, &x).matmul(&upload(&device, &y)).unwrap(),
        &matmul::matmul(&x, &y, false, false),
        1e-5,
    );
}

#[test]
fn reductions_over_everything_and_along_a_dim_match_the_reference() {
    let device = device();
    let mut rng = Rng::new(12);
    let dims = [rng.range(3, 9), rng.range(30, 90), 7];
    let a = random(&mut rng, &dims);
    let t = upload(&device, &a);
    let total: f64 = a.data.iter().sum();
    same("sum", &t.sum().unwrap(), &Array::new(&[], vec![total]), 1e-5);
    same("mean", &t.mean().unwrap(), &Array::new(&[], vec![total / a.data.len() as f64]), 1e-5);
    let (max_at, max) = a.data.iter().enumerate().fold((0, f64::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
    same("max", &t.max().unwrap(), &Array::new(&[], vec![max]), 0.0);
    same("argmax", &t.argmax().unwrap(), &Array::new(&[], vec![max_at as f64]), 0.0);
    for axis in [0isize, 1, -1] {
        let a_ = axis.rem_euclid(3) as usize;
        let kept = reduce::kept_dims(&dims, &[a_]);
        let squeezed: Vec<usize> = (0..3).filter(|&d| d != a_).map(|d| dims[d]).collect();
        let sum = reduce::sum_to(&a, &kept, 1.0);
        same(&format!("sum_dim({axis})"), &t.sum_dim(axis, true).unwrap(), &sum, 1e-5);
        let mean = Array::new(&squeezed, sum.data.iter().map(|v| v / dims[a_] as f64).collect());
        same(&format!("mean_dim({axis})"), &t.mean_dim(axis, false).unwrap(), &mean, 1e-5);
        let (values, indices) = t.max_dim(axis, false).unwrap();
        same(
            &format!("max_dim({axis}) values"),
            &values,
            &Array::new(&squeezed, reduce::max_to(&a, &kept, false).data),
            0.0,
        );
        same(
            &format!("max_dim({axis}) indices"),
            &indices,
            &Array::new(&squeezed, reduce::max_to(&a, &kept, true).data),
            0.0,
        );
    }
}

#[test]
fn indexing_slicing_permuting_and_joining_match_the_reference() {
    let device = device();
    let mut rng = Rng::new(13);
    let rows = rng.range(60, 120);
    let a = random(&mut rng, &[rows, 5, 7]);
    let t = upload(&device, &a);
    // t[-1], t[2:5], t[:, 1], t[:, :-1], t.narrow(2, 1, 4)
    let last = layout::narrow(&a, 0, rows - 1, 1);
    same("index(-1)", &t.index(-1).unwrap(), &Array::new(&[5, 7], last.data), 0.0);
    same("slice(0, 2..5)", &t.slice(0, 2..5).unwrap(), &layout::narrow(&a, 0, 2, 3), 0.0);
    let col = layout::narrow(&a, 1, 1, 1);
    same("select(1, 1)", &t.select(1, 1).unwrap(), &Array::new(&[rows, 7], col.data), 0.0);
    same("slice(1, ..-1)", &t.slice(1, ..-1).unwrap(), &layout::narrow(&a, 1, 0, 4), 0.0);
    same("narrow(2, 1, 4)", &t.narrow(2, 1, 4).unwrap(), &layout::narrow(&a, 2, 1, 4), 0.0);
    same("transpose(0, 2)", &t.transpose(0, 2).unwrap(), &layout::permute(&a, &[2, 1, 0]), 0.0);
    same("permute([1, 2, 0])", &t.permute(&[1, 2, 0]).unwrap(), &layout::permute(&a, &[1, 2, 0]), 0.0);
    let b = random(&mut rng, &[rows, 2, 7]);
    let joined = Tensor::cat(&[&t, &upload(&device, &b)], 1).unwrap();
    same("cat(1)", &joined, &layout::concat(&a, &b, 1), 0.0);
    let c = random(&mut rng, &[rows, 5, 7]);
    let stacked = Tensor::stack(&[&t, &upload(&device, &c)], 0).unwrap();
    let lift = |x: &Array| Array::new(&[1, rows, 5, 7], x.data.clone());
    same("stack(0)", &stacked, &layout::concat(&lift(&a), &lift(&c), 0), 0.0);
    let labels: Vec<i64> = (0..rows).map(|_| rng.range(0, 9) as i64).collect();
    let hot = Tensor::from_ints(&device, &[rows], &labels).unwrap().one_hot(10).unwrap();
    let want = layout::one_hot(&Array::new(&[rows], labels.iter().map(|&l| l as f64).collect()), 10);
    same("one_hot", &hot, &want, 0.0);
}

#[test]
fn views_share_the_buffer_and_in_place_ops_change_every_view() {
    let device = device();
    let mut x = Tensor::from_slice(&device, &[2, 3], &[1., 2., 3., 4., 5., 6.]).unwrap();
    let flat = x.view(&[-1]).unwrap();
    let column = x.unsqueeze(-1).unwrap();
    assert_eq!((flat.dims(), column.dims()), (&[6][..], &[2, 3, 1][..]));
    let two = Tensor::full(&device, &[3], 2.0).unwrap();
    let doubled = x.mul(&two).unwrap();
    assert_eq!(x.to_vec().unwrap(), [1., 2., 3., 4., 5., 6.], "mul leaves x alone");
    x.mul_(&two).unwrap().add_(&two).unwrap();
    assert_eq!(doubled.to_vec().unwrap(), [2., 4., 6., 8., 10., 12.]);
    assert_eq!(flat.to_vec().unwrap(), [4., 6., 8., 10., 12., 14.], "the view sees the in-place change");
    assert_eq!(column.squeeze(None).unwrap().to_vec().unwrap(), [4., 6., 8., 10., 12., 14.]);
    // A slice is a copy, not a view: later in-place changes do not reach it.
    let row = x.index(0).unwrap();
    x.sub_(&two).unwrap();
    assert_eq!(row.to_vec().unwrap(), [4., 6., 8.]);
}

#[test]
fn bad_calls_are_errors_naming_the_op_and_shapes() {
    let device = device();
    let a = Tensor::zeros(&device, &[2, 3]).unwrap();
    let b = Tensor::zeros(&device, &[4, 3]).unwrap();
    let msg = |r: shadergrad::Result<Tensor>| r.unwrap_err().to_string();
    let e = msg(a.add(&b));
    assert!(e.contains("add") && e.contains("[2, 3]") && e.contains("[4, 3]"), "{e}");
    let e = msg(a.matmul(&b));
    assert!(e.contains("matmul") && e.contains("[2, 3]") && e.contains("[4, 3]"), "{e}");
    let e = msg(a.view(&[-1, 4]));
    assert!(e.contains("view") && e.contains("-1, 4"), "{e}");
    let e = msg(a.index(2));
    assert!(e.contains("select") && e.contains("index 2"), "{e}");
    let e = msg(a.slice(1, 3..));
    assert!(e.contains("slice") && e.contains("empty"), "{e}");
    let e = msg(Tensor::cat(&[&a, &Tensor::zeros(&device, &[2, 4]).unwrap()], 0));
    assert!(e.contains("cat") && e.contains("[2, 3]") && e.contains("[2, 4]"), "{e}");
    let e = msg(a.permute(&[0, 0]));
    assert!(e.contains("permute"), "{e}");
    let mut c = a.clone();
    let e = c.add_(&Tensor::zeros(&device, &[3, 2, 3]).unwrap()).unwrap_err().to_string();
    assert!(e.contains("add_") && e.contains("in-place"), "{e}");
    let e = a.item().unwrap_err().to_string();
    assert!(e.contains("item") && e.contains("[2, 3]"), "{e}");
    let other = Device::new().unwrap();
    let e = msg(a.add(&Tensor::zeros(&other, &[2, 3]).unwrap()));
    assert!(e.contains("different devices"), "{e}");
}

#[test]
fn printing_shows_values_shape_and_device() {
    let device = device();
    let t = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.]).unwrap();
    let text = t.to_string();
    assert!(text.starts_with("tensor([[1., 2.],\n        [3., 4.]]) shape=[2, 2] device="), "{text}");
    assert!(text.contains(&device.info().name), "{text}");
}

#[test]
fn a_repeated_eager_op_compiles_its_plan_once_and_keeps_each_result() {
    let device = Device::new().expect("an adapter");
    let a = Tensor::from_slice(&device, &[2, 3], &[1., 2., 3., 4., 5., 6.]).unwrap();
    let b = Tensor::from_slice(&device, &[3], &[10., 20., 30.]).unwrap();
    let first = a.add(&b).unwrap();
    let compiled = device.plans_compiled();
    // Same op and shapes, other tensors: the cached plan, bound to these buffers.
    let c = Tensor::from_slice(&device, &[2, 3], &[0.5; 6]).unwrap();
    let second = c.add(&b).unwrap();
    let row = c.slice(0, 0..1).unwrap().reshape(&[3]).unwrap();
    let before_third = device.plans_compiled();
    let third = a.add(&row).unwrap();
    assert_eq!(first.to_vec().unwrap(), [11., 22., 33., 14., 25., 36.], "the first result is its own");
    assert_eq!(second.to_vec().unwrap(), [10.5, 20.5, 30.5, 10.5, 20.5, 30.5]);
    assert_eq!(third.to_vec().unwrap(), [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]);
    assert_eq!(device.plans_compiled(), before_third, "the repeated add compiled nothing");
    assert_eq!(before_third, compiled + 2, "the slice and the reshape compiled a plan each");
    // Another shape is another plan; the same again is not.
    let flat = a.reshape(&[6]).unwrap();
    let zeros = Tensor::zeros(&device, &[6]).unwrap();
    let before = device.plans_compiled();
    flat.add(&zeros).unwrap();
    flat.add(&zeros).unwrap();
    assert_eq!(device.plans_compiled(), before + 1);
    // A view through a cached plan still shares its input's buffer.
    let mut viewed = a.view(&[3, 2]).unwrap();
    viewed.mul_scalar_(2.0).unwrap();
    assert_eq!(a.to_vec().unwrap(), [2., 4., 6., 8., 10., 12.]);
}

/// Known values of the activation methods, which the elementwise table generates without doc
/// examples of their own.
#[test]
fn generated_activation_methods_give_the_documented_values() {
    let device = Device::new().expect("an adapter");
    let t = Tensor::from_slice(&device, &[2], &[-1., 2.]).unwrap();
    assert_eq!(t.relu().unwrap().to_vec().unwrap(), [0., 2.]);
    let zero = Tensor::from_slice(&device, &[1], &[0.]).unwrap();
    assert_eq!(zero.sigmoid().unwrap().item().unwrap(), 0.5);
    assert_eq!(zero.tanh().unwrap().item().unwrap(), 0.0);
    let mut chained = Tensor::from_slice(&device, &[2], &[-1., 2.]).unwrap();
    chained.relu_().unwrap().tanh_().unwrap();
    let v = chained.to_vec().unwrap();
    assert!(v[0] == 0.0 && (v[1] - 2f32.tanh()).abs() < 1e-6, "{v:?}");
}
