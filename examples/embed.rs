//! An application that already renders with wgpu embeds shadergrad: it creates its own device,
//! hands it over, runs a small trained model, and copies the output into a buffer of its own
//! on the GPU, with no round trip through host memory.
//!
//! Run: `cargo run --release --example embed`

use shadergrad::nn::{InitPlan, Layer, Mode, Sequential};
use shadergrad::{Device, Graph, Plan, init::Init, init::Mt19937};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's own device, as a renderer would create it.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle().with_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))?;
    let (app_device, app_queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;

    // shadergrad runs on that same device.
    let device = Device::from_wgpu(app_device.clone(), app_queue.clone());
    let model = Sequential::new(vec![
        Layer::Linear { inputs: 4, outputs: 8, bias: true },
        Layer::TANH,
        Layer::Linear { inputs: 8, outputs: 3, bias: true },
    ]);
    let mut g = Graph::new();
    let x = g.input("x", &[2, 4])?;
    let y = model.forward(&mut g, x, Mode::Eval, 0)?;
    let scores = g.softmax(y)?;
    let mut plan = Plan::compile(&device, &g, &[scores])?;
    for (name, values) in model.initial_values(InitPlan::all(Init::XavierUniform), &mut Mt19937::new(7)) {
        plan.write_named(&name, &values)?;
    }
    plan.write(x, &[0.5, -1.0, 2.0, 0.0, 1.0, 1.0, -0.5, 0.25])?;
    plan.run()?;

    // The application's buffer, filled GPU to GPU in its own command buffer.
    let bytes = 2 * 3 * 4;
    let mine = app_device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("application scores"),
        size: bytes,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = app_device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(plan.buffer(scores)?, 0, &mine, 0, bytes);
    app_queue.submit([encoder.finish()]);

    // Only to show the result: map the application's buffer.
    mine.slice(..).map_async(wgpu::MapMode::Read, |r| r.expect("map the application's buffer"));
    app_device.poll(wgpu::PollType::wait_indefinitely())?;
    let view = mine.slice(..).get_mapped_range()?;
    let values: &[f32] = bytemuck::cast_slice(&view);
    for (row, probabilities) in values.chunks(3).enumerate() {
        println!("example {row}: class probabilities {probabilities:?}");
    }
    Ok(())
}
