//! Eager tensors: values in a GPU buffer with a shape, for exploring (the course's lab 01) and
//! for applications. Every operation runs at once on the same WGSL kernels the graph uses
//! (each one a small plan: one submit), and nothing comes back to the host until asked
//! (`to_vec`, `item`, printing).
//!
//! ```
//! use shadergrad::{Device, Tensor};
//! let device = Device::new()?;
//! let t = Tensor::from_slice(&device, &[2, 3], &[1., 2., 3., 4., 5., 6.])?;
//! let col = t.select(1, -1)?; // t[:, -1]
//! assert_eq!(col.to_vec()?, [3., 6.]);
//! println!("{t}");
//! # Ok::<(), shadergrad::Error>(())
//! ```

mod display;
mod ops;

use crate::backend::device::Device;
use crate::error::{Error, Result};
use crate::ir::shape::Shape;
use std::sync::Arc;

/// An f32 tensor of rank 0 to 4 living in a GPU storage buffer. Clones, views (`view`,
/// `reshape`, `squeeze`, `unsqueeze`) and the tensor share one buffer, so an in-place op on
/// one (`mul_`, …) shows in all of them, as in PyTorch.
#[derive(Clone, Debug)]
pub struct Tensor {
    device: Device,
    buffer: Arc<wgpu::Buffer>,
    shape: Shape,
}

impl Tensor {
    /// Uploads `values` as a tensor of shape `dims`.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2, 2], &[1., 2., 3., 4.])?;
    /// assert_eq!((t.rank(), t.dims()), (2, &[2, 2][..]));
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn from_slice(device: &Device, dims: &[usize], values: &[f32]) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        if values.len() != shape.numel() {
            return Err(Error::DataLength {
                what: "tensor".into(),
                shape: shape.clone(),
                expected: shape.numel(),
                got: values.len(),
            });
        }
        let buffer = device.create_storage("tensor", &shape)?;
        device.queue().write_buffer(&buffer, 0, bytemuck::cast_slice(values));
        Ok(Tensor { device: device.clone(), buffer: Arc::new(buffer), shape })
    }

    /// Integers cast to f32, as `torch.LongTensor(…).float()` (exact up to 2²⁴).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_ints(&device, &[4], &[1, 2, 3, 4])?;
    /// assert_eq!(t.to_vec()?, [1., 2., 3., 4.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn from_ints(device: &Device, dims: &[usize], values: &[i64]) -> Result<Tensor> {
        Tensor::from_slice(device, dims, &values.iter().map(|&v| v as f32).collect::<Vec<_>>())
    }

    /// Booleans as 1.0 and 0.0, as `torch.ByteTensor([True, False]).float()`.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_bools(&device, &[4], &[true, false, false, true])?;
    /// assert_eq!(t.to_vec()?, [1., 0., 0., 1.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn from_bools(device: &Device, dims: &[usize], values: &[bool]) -> Result<Tensor> {
        Tensor::from_slice(device, dims, &values.iter().map(|&v| v as u8 as f32).collect::<Vec<_>>())
    }

    /// A tensor of `value` everywhere.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// assert_eq!(Tensor::full(&device, &[3], 7.0)?.to_vec()?, [7., 7., 7.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn full(device: &Device, dims: &[usize], value: f32) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        Tensor::from_slice(device, dims, &vec![value; shape.numel()])
    }

    /// A tensor of zeros.
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// assert_eq!(Tensor::zeros(&device, &[2])?.to_vec()?, [0., 0.]);
    /// assert_eq!(Tensor::ones(&device, &[2])?.to_vec()?, [1., 1.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn zeros(device: &Device, dims: &[usize]) -> Result<Tensor> {
        Tensor::full(device, dims, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(device: &Device, dims: &[usize]) -> Result<Tensor> {
        Tensor::full(device, dims, 1.0)
    }

    /// Zeros of this tensor's shape, on its device (`torch.zeros_like`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let x = Tensor::from_slice(&device, &[2], &[5., 6.])?;
    /// assert_eq!(x.zeros_like()?.to_vec()?, [0., 0.]);
    /// assert_eq!(x.ones_like()?.to_vec()?, [1., 1.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::full(&self.device, self.dims(), 0.0)
    }

    /// Ones of this tensor's shape, on its device (`torch.ones_like`).
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::full(&self.device, self.dims(), 1.0)
    }

    /// Its shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Its dims, outermost first (`t.size()`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::zeros(&device, &[2, 3])?;
    /// assert_eq!((t.dims(), t.rank(), t.numel(), t.size(-1)?), (&[2, 3][..], 2, 6, 3));
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Its number of axes (`t.dim()`).
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// Its number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// The extent of `axis` (negative counts from the end).
    pub fn size(&self, axis: isize) -> Result<usize> {
        Ok(self.dims()[self.shape.axis("size", axis)?])
    }

    /// The device it lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The GPU buffer; the values are its first `numel × 4` bytes.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Copies the values back to the host (one submit and one map).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2], &[1., 2.])?;
    /// assert_eq!(t.to_vec()?, [1., 2.]);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        let bytes = self.shape.numel() as u64 * 4;
        let staging = self.device.create_staging("tensor readback", bytes)?;
        let mut encoder = self.device.wgpu_device().create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.buffer, 0, &staging, 0, bytes);
        self.device.queue().submit([encoder.finish()]);
        self.device.read_staging(&staging, self.shape.numel(), "tensor")
    }

    /// The value of a one-element tensor (`t.item()`).
    ///
    /// ```
    /// # use shadergrad::{Device, Tensor};
    /// # let device = Device::new()?;
    /// let t = Tensor::from_slice(&device, &[2], &[1.5, 2.5])?;
    /// assert_eq!(t.sum()?.item()?, 4.0);
    /// # Ok::<(), shadergrad::Error>(())
    /// ```
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::InvalidArgument {
                op: "item",
                message: format!("only a tensor of one element has an item; this one has shape {}", self.shape),
            });
        }
        Ok(self.to_vec()?[0])
    }
}
