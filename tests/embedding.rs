//! An application's side: a plan recorded into the application's own command encoder (a
//! render pass and a training step in one submit) computes what `run` computes, and an input
//! bound to the application's buffer is read from it, with mismatches named.

use shadergrad::ir::autodiff::gradients;
use shadergrad::ops::optim::Optimizer;
use shadergrad::{Device, Graph, NodeId, Plan};

fn device() -> Device {
    Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

fn wave(n: usize, f: f32) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect()
}

/// A linear layer trained by Adam (whose per-run words change every step) on MSE.
fn training_plan(device: &Device) -> (Plan, NodeId, NodeId) {
    let mut g = Graph::new();
    let x = g.input("x", &[40, 6]).unwrap();
    let y = g.input("y", &[40, 3]).unwrap();
    let w = g.param("w", &[6, 3]).unwrap();
    let out = g.matmul(x, w).unwrap();
    let loss = g.mse(out, y).unwrap();
    let grad = gradients(&mut g, loss, None, &[w]).unwrap();
    g.optimizer_update(w, grad[0], Optimizer::adam(0.05)).unwrap();
    let mut plan = Plan::compile(device, &g, &[loss]).unwrap();
    plan.write(x, &wave(240, 0.7)).unwrap();
    plan.write(y, &wave(120, 1.3)).unwrap();
    plan.write(w, &wave(18, 0.37)).unwrap();
    (plan, w, loss)
}

fn storage_buffer(device: &wgpu::Device, bytes: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("application"),
        size: bytes,
        usage,
        mapped_at_creation: false,
    })
}

/// Maps `buffer` (MAP_READ) and returns its floats.
fn read_back(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Vec<f32> {
    buffer.slice(..).map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let values = bytemuck::cast_slice(&buffer.slice(..).get_mapped_range().unwrap()).to_vec();
    buffer.unmap();
    values
}

#[test]
fn a_step_recorded_with_a_render_pass_in_one_submit_equals_run() {
    let device = device();
    let (app, queue) = (device.wgpu_device().clone(), device.queue().clone());
    let (mut by_run, w, loss) = training_plan(&device);
    let (mut recorded, _, _) = training_plan(&device);
    let target = app.create_texture(&wgpu::TextureDescriptor {
        label: Some("frame"),
        size: wgpu::Extent3d { width: 64, height: 64, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = target.create_view(&Default::default());
    let pixels = storage_buffer(&app, 64 * 64 * 4, wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ);
    let losses = storage_buffer(&app, 4, wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ);
    let submits_before = recorded.counters().submits;
    for step in 0..4 {
        by_run.run().unwrap();
        let mut encoder = app.create_command_encoder(&Default::default());
        {
            let _frame = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("frame"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color { r: 0.0, g: 0.5, b: 1.0, a: 1.0 }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
        }
        recorded.record(&mut encoder).unwrap();
        // The application takes the loss where it lies, in the same command buffer.
        encoder.copy_buffer_to_buffer(recorded.buffer(loss).unwrap(), 0, &losses, 0, 4);
        if step == 3 {
            encoder.copy_texture_to_buffer(
                target.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: &pixels,
                    layout: wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(256), rows_per_image: None },
                },
                wgpu::Extent3d { width: 64, height: 64, depth_or_array_layers: 1 },
            );
        }
        queue.submit([encoder.finish()]);
    }
    assert_eq!(recorded.counters().submits, submits_before, "recording submits nothing itself");
    assert_eq!(recorded.steps_taken(), 4);
    assert_eq!(recorded.read(w).unwrap(), by_run.read(w).unwrap(), "the same weights after 4 Adam steps");
    assert_eq!(read_back(&app, &losses), by_run.read(loss).unwrap(), "the last step's loss");
    let frame: Vec<u8> = bytemuck::cast_slice(&read_back(&app, &pixels)).to_vec();
    assert_eq!(&frame[..4], &[0, 128, 255, 255], "the render pass drew its frame in the same submit");
}

#[test]
fn an_input_bound_to_an_application_buffer_is_read_from_it() {
    let device = device();
    let (app, queue) = (device.wgpu_device().clone(), device.queue().clone());
    let mut g = Graph::new();
    let x = g.input("x", &[33, 7]).unwrap();
    let w = g.param("w", &[7, 5]).unwrap();
    let h = g.matmul(x, w).unwrap();
    let y = g.tanh(h).unwrap();
    let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
    plan.write(w, &wave(35, 0.3)).unwrap();
    plan.write(x, &wave(231, 0.9)).unwrap();
    let from_host = plan.run_and_read(&[y]).unwrap().remove(0);

    // The application makes the input on the GPU: here a copy from a buffer of its own.
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
    let source = storage_buffer(&app, 231 * 4, usage);
    queue.write_buffer(&source, 0, bytemuck::cast_slice(&wave(231, 0.9)));
    let input = storage_buffer(&app, 231 * 4 + 64, usage);
    plan.bind_input(x, &input).unwrap();
    let mut encoder = app.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(&source, 0, &input, 0, 231 * 4);
    plan.record(&mut encoder).unwrap();
    queue.submit([encoder.finish()]);
    assert_eq!(plan.read(y).unwrap(), from_host, "the bound buffer's values, not the plan's old input");

    let small = storage_buffer(&app, 230 * 4, usage);
    let err = plan.bind_input(x, &small).unwrap_err().to_string();
    assert!(err.contains("[33, 7]") && err.contains("924 bytes") && err.contains("920"), "{err}");
    let unusable = storage_buffer(&app, 231 * 4, wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ);
    let err = plan.bind_input(x, &unusable).unwrap_err().to_string();
    assert!(err.contains("STORAGE") && err.contains("MAP_READ"), "{err}");
    let err = plan.bind_input(w, &input).unwrap_err().to_string();
    assert!(err.contains("not an input"), "{err}");
}
