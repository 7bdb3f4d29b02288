//! Eager operations: each builds a one-op graph on the tensors' own buffers and runs it at once
//! (one submit). The plan of each distinct op, shapes and parameters is compiled once per
//! device and bound to each call's buffers. The graph ops, and so the kernels and their
//! checks, are the ones models use.

use super::Tensor;
use crate::backend::executor::Plan;
use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId};
use crate::ir::ops::elementwise::for_each_activation;
use std::collections::HashMap;
use std::ops::RangeBounds;
use std::sync::Arc;

impl Tensor {
    /// Runs `build` on graph inputs bound to `inputs`' buffers and returns its result.
    fn apply(
        op: &'static str,
        inputs: &[&Tensor],
        build: impl FnOnce(&mut Graph, &[NodeId]) -> Result<NodeId>,
    ) -> Result<Tensor> {
        let device = inputs[0].device.clone();
        if let Some(other) = inputs.iter().find(|t| !t.device.same_device(&device)) {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "the tensors live on different devices ({} and {})",
                    device.describe(),
                    other.device.describe()
                ),
            });
        }
        let mut g = Graph::new();
        let ids =
            inputs.iter().enumerate().map(|(k, t)| g.input(&format!("x{k}"), t.dims())).collect::<Result<Vec<_>>>()?;
        let out = build(&mut g, &ids)?;
        if let Some(k) = ids.iter().position(|&id| id == out) {
            return Ok(inputs[k].clone());
        }
        let shape = g.shape(out).clone();
        // The graph's nodes (ops, their parameters, shapes) say all the plan depends on.
        let key = format!("{:?}", g.nodes());
        let compile = || {
            let bound: HashMap<usize, _> =
                ids.iter().zip(inputs).map(|(id, t)| (id.index(), t.buffer.clone())).collect();
            Plan::compile_bound(&device, &g, &[out], &bound)
        };
        let buffer = device.with_eager_plan(key, compile, |plan: &mut Plan| {
            let mut buffers: Vec<_> = ids.iter().zip(inputs).map(|(&id, t)| (id, t.buffer.clone())).collect();
            // A view shares its input's buffer; any other result gets a buffer of its own, so
            // that the next call leaves this one's result alone.
            let shares_input = plan.shares_buffer(out, &ids)?;
            if !shares_input {
                buffers.push((out, Arc::new(device.create_storage(op, &shape)?)));
            }
            plan.rebind(&buffers)?;
            plan.run()?;
            plan.output_buffer(out)
        })?;
        Ok(Tensor { device, buffer, shape })
    }

    /// Writes `result` (of this tensor's shape) into this tensor's buffer, so that every view
    /// of it sees the change.
    fn assign(&mut self, op: &'static str, result: Tensor) -> Result<&mut Tensor> {
        if result.shape != self.shape {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape.clone(),
                rhs: result.shape,
                reason: "an in-place result must keep the tensor's shape".into(),
            });
        }
        if !std::sync::Arc::ptr_eq(&result.buffer, &self.buffer) {
            let mut encoder = self.device.wgpu_device().create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&result.buffer, 0, &self.buffer, 0, self.numel() as u64 * 4);
            self.device.queue().submit([encoder.finish()]);
        }
        Ok(self)
    }

    /// Elementwise sum, broadcasting as NumPy does (errors name both shapes).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let m1 = Tensor::from_slice(&device, &[2, 1], &[1., 2.])?;
    /// let m2 = Tensor::from_slice(&device, &[1, 2], &[3., 4.])?;
    /// assert_eq!(m1.add(&m2)?.to_vec()?, [4., 5., 5., 6.]); // [2, 2]
    /// assert!(m1.add(&Tensor::zeros(&device, &[3])?).is_ok()); // [2, 1] + [3] → [2, 3]
    /// assert!(m1.add(&Tensor::zeros(&device, &[3, 2])?).is_err()); // names [2, 1] and [3, 2]
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        Tensor::apply("add", &[self, other], |g, x| g.add(x[0], x[1]))
    }

    /// Elementwise difference, broadcasting.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let a = Tensor::from_slice(&device, &[2], &[5., 7.])?;
    /// let b = Tensor::from_slice(&device, &[1], &[2.])?;
    /// assert_eq!(a.sub(&b)?.to_vec()?, [3., 5.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        Tensor::apply("sub", &[self, other], |g, x| g.sub(x[0], x[1]))
    }

    /// Elementwise product, broadcasting (`t * u`, not the matrix product).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let m1 = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// let m2 = Tensor::from_slice(&device, &[2, 1], &[1., 2.])?;
    /// assert_eq!(m1.mul(&m2)?.to_vec()?, [1., 2., 6., 8.]);
    /// assert_eq!(m1.matmul(&m2)?.to_vec()?, [5., 11.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        Tensor::apply("mul", &[self, other], |g, x| g.mul(x[0], x[1]))
    }

    /// Elementwise quotient, broadcasting.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let a = Tensor::from_slice(&device, &[2], &[6., 9.])?;
    /// let b = Tensor::from_slice(&device, &[2], &[2., 3.])?;
    /// assert_eq!(a.div(&b)?.to_vec()?, [3., 3.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        Tensor::apply("div", &[self, other], |g, x| g.div(x[0], x[1]))
    }

    /// `self + other` in place (`add_`); `other` broadcasts to this tensor's shape.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let mut a = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// a.add_(&Tensor::full(&device, &[1], 10.0)?)?;
    /// assert_eq!(a.to_vec()?, [11., 12.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn add_(&mut self, other: &Tensor) -> Result<&mut Tensor> {
        let r = self.add(other)?;
        self.assign("add_", r)
    }

    /// `self − other` in place (`sub_`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let mut a = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// a.sub_(&Tensor::full(&device, &[1], 1.0)?)?;
    /// assert_eq!(a.to_vec()?, [0., 1.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn sub_(&mut self, other: &Tensor) -> Result<&mut Tensor> {
        let r = self.sub(other)?;
        self.assign("sub_", r)
    }

    /// `self × other` in place (`mul_`): the tensor and its views change.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let mut x = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// let two = Tensor::full(&device, &[1], 2.0)?;
    /// assert_eq!(x.mul(&two)?.to_vec()?, [2., 4., 6., 8.]);
    /// assert_eq!(x.to_vec()?, [1., 2., 3., 4.]); // out of place: x is unchanged
    /// x.mul_(&two)?;
    /// assert_eq!(x.to_vec()?, [2., 4., 6., 8.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn mul_(&mut self, other: &Tensor) -> Result<&mut Tensor> {
        let r = self.mul(other)?;
        self.assign("mul_", r)
    }

    /// `self ÷ other` in place (`div_`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let mut a = Tensor::from_slice(&device, &[2], &[4., 8.])?;
    /// a.div_(&Tensor::full(&device, &[1], 4.0)?)?;
    /// assert_eq!(a.to_vec()?, [1., 2.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn div_(&mut self, other: &Tensor) -> Result<&mut Tensor> {
        let r = self.div(other)?;
        self.assign("div_", r)
    }

    /// Every element plus `s`.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// assert_eq!(t.add_scalar(0.5)?.to_vec()?, [1.5, 2.5]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        Tensor::apply("add_scalar", &[self], |g, x| g.add_scalar(x[0], s))
    }

    /// Every element times `s`.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2], &[1., -2.])?;
    /// assert_eq!(t.mul_scalar(3.0)?.add_scalar(1.0)?.to_vec()?, [4., -5.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        Tensor::apply("mul_scalar", &[self], |g, x| g.scale(x[0], s))
    }

    /// Every element times `s`, in place (`x.mul_(2.)`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let mut x = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// x.mul_scalar_(2.0)?;
    /// assert_eq!(x.to_vec()?, [2., 4.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn mul_scalar_(&mut self, s: f32) -> Result<&mut Tensor> {
        let r = self.mul_scalar(s)?;
        self.assign("mul_scalar_", r)
    }

    /// Every element plus `s`, in place.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let mut x = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// x.add_scalar_(1.0)?;
    /// assert_eq!(x.to_vec()?, [2., 3.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn add_scalar_(&mut self, s: f32) -> Result<&mut Tensor> {
        let r = self.add_scalar(s)?;
        self.assign("add_scalar_", r)
    }

    /// The matrix product of `[m, k]` and `[k, n]` (or batches `[b, m, k]` · `[b, k, n]`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let a = Tensor::from_slice(&device, &[1, 2], &[1., 2.])?;
    /// let b = Tensor::from_slice(&device, &[2, 1], &[3., 4.])?;
    /// assert_eq!(a.matmul(&b)?.item()?, 11.0);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        Tensor::apply("matmul", &[self, other], |g, x| g.matmul(x[0], x[1]))
    }

    /// The sum of every element, a scalar (rank 0).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// assert_eq!(t.sum()?.item()?, 10.0);
    /// assert_eq!(t.sum_dim(0, false)?.to_vec()?, [4., 6.]);
    /// assert_eq!(t.sum_dim(-1, false)?.to_vec()?, [3., 7.]);
    /// assert_eq!(t.mean()?.item()?, 2.5);
    /// assert_eq!(t.mean_dim(1, true)?.dims(), [2, 1]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn sum(&self) -> Result<Tensor> {
        let all = self.all_axes();
        Tensor::apply("sum", &[self], |g, x| g.sum_axes(x[0], &all, false))
    }

    /// The sum along `axis` (negative counts from the end); `keepdim` keeps it with extent 1.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// assert_eq!(t.sum_dim(1, true)?.dims(), [2, 1]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn sum_dim(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        Tensor::apply("sum", &[self], |g, x| g.sum_axes(x[0], &[axis], keepdim))
    }

    /// The mean of every element, a scalar.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// assert_eq!(t.mean()?.item()?, 1.5);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn mean(&self) -> Result<Tensor> {
        let all = self.all_axes();
        Tensor::apply("mean", &[self], |g, x| g.mean_axes(x[0], &all, false))
    }

    /// The mean along `axis`.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// assert_eq!(t.mean_dim(0, false)?.to_vec()?, [2., 3.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn mean_dim(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        Tensor::apply("mean", &[self], |g, x| g.mean_axes(x[0], &[axis], keepdim))
    }

    /// The largest element, a scalar.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// assert_eq!((t.max()?.item()?, t.argmax()?.item()?), (4.0, 3.0));
    /// let (values, indices) = t.max_dim(0, false)?;
    /// assert_eq!((values.to_vec()?, indices.to_vec()?), (vec![3., 4.], vec![1., 1.]));
    /// assert_eq!(t.argmax_dim(-1, false)?.to_vec()?, [1., 1.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn max(&self) -> Result<Tensor> {
        let all = self.all_axes();
        Tensor::apply("max", &[self], |g, x| g.max_axes(x[0], &all, false))
    }

    /// Where the largest element is, as a row-major index (a scalar).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[3], &[1., 9., 2.])?;
    /// assert_eq!(t.argmax()?.item()?, 1.0);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn argmax(&self) -> Result<Tensor> {
        let all = self.all_axes();
        Tensor::apply("argmax", &[self], |g, x| g.argmax_axes(x[0], &all, false))
    }

    /// The largest values along `axis` and where they are (`torch.max(t, dim)`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 5., 3., 4.])?;
    /// let (values, indices) = t.max_dim(1, false)?;
    /// assert_eq!((values.to_vec()?, indices.to_vec()?), (vec![5., 4.], vec![1., 1.]));
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn max_dim(&self, axis: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        Ok((Tensor::apply("max", &[self], |g, x| g.max_axes(x[0], &[axis], keepdim))?, self.argmax_dim(axis, keepdim)?))
    }

    /// Where the largest values along `axis` are (the first among equals).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 5., 3., 4.])?;
    /// assert_eq!(t.argmax_dim(0, false)?.to_vec()?, [1., 0.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn argmax_dim(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        Tensor::apply("argmax", &[self], |g, x| g.argmax_axes(x[0], &[axis], keepdim))
    }

    fn all_axes(&self) -> Vec<isize> {
        (0..self.rank() as isize).collect()
    }

    /// The same elements under `dims`, one of which may be -1 (`view(-1, 3)`); shares the
    /// buffer.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2, 3], &[0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11.])?;
    /// assert_eq!(t.view(&[-1, 3])?.dims(), [4, 3]);
    /// assert_eq!(t.view(&[-1, 1, 3])?.dims(), [4, 1, 3]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn view(&self, dims: &[isize]) -> Result<Tensor> {
        Tensor::apply("view", &[self], |g, x| g.view(x[0], dims))
    }

    /// The same elements under `dims`; shares the buffer.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// assert_eq!(t.reshape(&[4])?.dims(), [4]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn reshape(&self, dims: &[usize]) -> Result<Tensor> {
        Tensor::apply("reshape", &[self], |g, x| g.reshape(x[0], dims))
    }

    /// Without axes of extent 1 (`None`), or without `axis` if its extent is 1.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let ft = Tensor::from_slice(&device, &[3, 1], &[0., 1., 2.])?;
    /// assert_eq!(ft.squeeze(None)?.dims(), [3]);
    /// let v = Tensor::from_slice(&device, &[3], &[0., 1., 2.])?;
    /// assert_eq!(v.unsqueeze(0)?.dims(), [1, 3]);
    /// assert_eq!(v.unsqueeze(-1)?.dims(), [3, 1]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn squeeze(&self, axis: Option<isize>) -> Result<Tensor> {
        Tensor::apply("squeeze", &[self], |g, x| g.squeeze(x[0], axis))
    }

    /// With a new axis of extent 1 at `axis` (−1: last).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// assert_eq!(t.unsqueeze(1)?.dims(), [2, 1]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor> {
        Tensor::apply("unsqueeze", &[self], |g, x| g.unsqueeze(x[0], axis))
    }

    /// The entry `index` of the first axis (`t[i]`, `t[-1]`), which is removed.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[7], &[0., 1., 2., 3., 4., 5., 6.])?;
    /// assert_eq!((t.index(0)?.item()?, t.index(-1)?.item()?), (0.0, 6.0));
    /// assert_eq!(t.slice(0, 2..5)?.to_vec()?, [2., 3., 4.]); // t[2:5]
    /// assert_eq!(t.slice(0, 4..-1)?.to_vec()?, [4., 5.]); // t[4:-1]
    /// assert_eq!(t.slice(0, ..2)?.to_vec()?, [0., 1.]); // t[:2]
    /// let m = Tensor::from_slice(&device, &[2, 3], &[1., 2., 3., 4., 5., 6.])?;
    /// assert_eq!(m.select(1, 1)?.to_vec()?, [2., 5.]); // m[:, 1]
    /// assert_eq!(m.slice(1, ..-1)?.to_vec()?, [1., 2., 4., 5.]); // m[:, :-1]
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn index(&self, index: isize) -> Result<Tensor> {
        self.select(0, index)
    }

    /// The entry `index` along `axis`, which is removed (`t[:, 1]` is `select(1, 1)`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let m = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// assert_eq!(m.select(1, -1)?.to_vec()?, [2., 4.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn select(&self, axis: isize, index: isize) -> Result<Tensor> {
        Tensor::apply("select", &[self], |g, x| g.select(x[0], axis, index))
    }

    /// The elements in `range` along `axis`, with Python's rules for negative and
    /// out-of-range ends (`t[:, :-1]` is `slice(1, ..-1)`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[4], &[1., 2., 3., 4.])?;
    /// assert_eq!(t.slice(0, 1..)?.to_vec()?, [2., 3., 4.]);
    /// assert_eq!(t.slice(0, -2..)?.to_vec()?, [3., 4.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn slice(&self, axis: isize, range: impl RangeBounds<isize>) -> Result<Tensor> {
        Tensor::apply("slice", &[self], |g, x| g.slice(x[0], axis, range))
    }

    /// `len` elements from `start` along `axis` (`torch.narrow`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[4], &[1., 2., 3., 4.])?;
    /// assert_eq!(t.narrow(0, 1, 2)?.to_vec()?, [2., 3.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn narrow(&self, axis: isize, start: isize, len: usize) -> Result<Tensor> {
        Tensor::apply("narrow", &[self], |g, x| g.narrow(x[0], axis, start, len))
    }

    /// Axes `a` and `b` swapped.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 3], &[1., 2., 3., 4., 5., 6.])?;
    /// assert_eq!(t.transpose(0, 1)?.to_vec()?, [1., 4., 2., 5., 3., 6.]);
    /// let x = Tensor::zeros(&device, &[2, 3, 4])?;
    /// assert_eq!(x.permute(&[2, 0, 1])?.dims(), [4, 2, 3]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        Tensor::apply("transpose", &[self], |g, x| g.transpose(x[0], a, b))
    }

    /// The axes reordered: axis d of the result is axis `order[d]` of this tensor.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[1, 2, 3], &[1., 2., 3., 4., 5., 6.])?;
    /// assert_eq!(t.permute(&[2, 0, 1])?.dims(), [3, 1, 2]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn permute(&self, order: &[isize]) -> Result<Tensor> {
        Tensor::apply("permute", &[self], |g, x| g.permute(x[0], order))
    }

    /// `parts` joined along `axis` (`torch.cat`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let x = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// let y = Tensor::from_slice(&device, &[2, 2], &[5., 6., 7., 8.])?;
    /// assert_eq!(Tensor::cat(&[&x, &y], 0)?.dims(), [4, 2]);
    /// assert_eq!(Tensor::cat(&[&x, &y], 1)?.to_vec()?, [1., 2., 5., 6., 3., 4., 7., 8.]);
    /// assert_eq!(Tensor::stack(&[&x, &y], 1)?.dims(), [2, 2, 2]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn cat(parts: &[&Tensor], axis: isize) -> Result<Tensor> {
        if parts.is_empty() {
            return Err(Error::InvalidArgument { op: "cat", message: "no tensors to join".into() });
        }
        Tensor::apply("cat", parts, |g, x| g.cat(x, axis))
    }

    /// `parts`, of one shape, stacked along a new axis `axis` (`torch.stack`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let x = Tensor::from_slice(&device, &[2], &[1., 4.])?;
    /// let y = Tensor::from_slice(&device, &[2], &[2., 5.])?;
    /// assert_eq!(Tensor::stack(&[&x, &y], 0)?.to_vec()?, [1., 4., 2., 5.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn stack(parts: &[&Tensor], axis: isize) -> Result<Tensor> {
        if parts.is_empty() {
            return Err(Error::InvalidArgument { op: "stack", message: "no tensors to stack".into() });
        }
        Tensor::apply("stack", parts, |g, x| g.stack(x, axis))
    }

    /// One-hot rows `[n, classes]` of this tensor of class indices `[n]`.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let labels = Tensor::from_ints(&device, &[3], &[0, 2, 1])?;
    /// assert_eq!(labels.one_hot(3)?.to_vec()?, [1., 0., 0., 0., 0., 1., 0., 1., 0.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn one_hot(&self, classes: usize) -> Result<Tensor> {
        Tensor::apply("one_hot", &[self], |g, x| g.one_hot(x[0], classes))
    }
}

/// `Tensor::relu`, `Tensor::gelu_`, …: an eager method and an in-place one per activation of
/// the elementwise table, each the graph op run on the tensor's buffer.
macro_rules! activation_methods {
    ($(($method:ident, $in_place:ident, $variant:ident, $constant:ident, $torch:literal),)*) => {
        impl Tensor {
            $(
                #[doc = concat!("PyTorch's `", $torch, "` of every element ([`ElementwiseOp::", stringify!($variant), "`](crate::ops::elementwise::ElementwiseOp::", stringify!($variant), ")).")]
                pub fn $method(&self) -> Result<Tensor> {
                    Tensor::apply(stringify!($method), &[self], |g, x| g.$method(x[0]))
                }

                #[doc = concat!("[`Tensor::", stringify!($method), "`] in place (`", stringify!($in_place), "`): every view of the tensor sees the result.")]
                pub fn $in_place(&mut self) -> Result<&mut Tensor> {
                    let r = self.$method()?;
                    self.assign(stringify!($in_place), r)
                }
            )*
        }
    };
}
for_each_activation!(activation_methods);
