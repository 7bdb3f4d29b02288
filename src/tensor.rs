//! Tensors held in GPU buffers: upload from host slices, download to host vectors.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::shape::Shape;
use std::sync::Arc;

/// An f32 tensor of rank 0 to 4 living in a GPU storage buffer.
#[derive(Clone, Debug)]
pub struct Tensor {
    device: Device,
    buffer: Arc<wgpu::Buffer>,
    shape: Shape,
}

impl Tensor {
    /// Uploads `values` as a tensor of shape `dims`.
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

    /// A tensor of zeros.
    pub fn zeros(device: &Device, dims: &[usize]) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        Tensor::from_slice(device, dims, &vec![0.0; shape.numel()])
    }

    /// Its shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
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
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        let bytes = self.shape.numel() as u64 * 4;
        let staging = self.device.create_staging("tensor readback", bytes)?;
        let mut encoder = self.device.wgpu_device().create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.buffer, 0, &staging, 0, bytes);
        self.device.queue().submit([encoder.finish()]);
        self.device.read_staging(&staging, self.shape.numel(), "tensor")
    }
}
