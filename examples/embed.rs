//! An application that already renders with wgpu embeds shadergrad: it hands over its own
//! device, loads a model's weights by PyTorch's names, binds the model's input to a buffer
//! of its own, records the model into its own command encoder between its own commands, and
//! takes the output where it lies on the GPU: one submit, no host round trip.
//! (`examples/digit_pad` is the same in a window.)
//!
//! Run: `cargo run --release --example embed`

use shadergrad::checkpoint::Checkpoint;
use shadergrad::nn::{InitPlan, Layer, ModuleExt, Sequential};
use shadergrad::{Device, Inference, init::Init, init::Mt19937};

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
    let mut inference = Inference::new(&device, model.clone(), &[2, 4])?;
    // Weights by name, as a PyTorch state dict holds them (`checkpoint::load` reads one).
    let mut weights = Checkpoint::default();
    for ((name, values), (_, dims)) in model
        .initial_values(InitPlan::all(Init::XavierUniform), &mut Mt19937::new(7))
        .into_iter()
        .zip(model.parameters())
    {
        weights.tensors.push((name, dims, values));
    }
    inference.load_weights(&weights, "weights", true)?;

    // The application's buffers: the input it fills on the GPU, and where it wants the output.
    let buffer = |label, bytes, usage| {
        app_device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    use wgpu::BufferUsages as U;
    let staged = buffer("application data", 32, U::COPY_SRC | U::COPY_DST);
    let input = buffer("application input", 32, U::STORAGE | U::COPY_SRC | U::COPY_DST);
    let mine = buffer("application scores", 24, U::COPY_DST | U::MAP_READ);
    app_queue.write_buffer(&staged, 0, bytemuck::cast_slice(&[0.5f32, -1.0, 2.0, 0.0, 1.0, 1.0, -0.5, 0.25]));
    inference.bind_input(&input)?;

    // One command buffer: the application's copy in, the model, the application's copy out.
    let mut encoder = app_device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(&staged, 0, &input, 0, 32);
    inference.record(&mut encoder)?;
    encoder.copy_buffer_to_buffer(inference.output_buffer()?, 0, &mine, 0, 24);
    app_queue.submit([encoder.finish()]);

    // Only to show the result: map the application's buffer.
    mine.slice(..).map_async(wgpu::MapMode::Read, |r| r.expect("map the application's buffer"));
    app_device.poll(wgpu::PollType::wait_indefinitely())?;
    let view = mine.slice(..).get_mapped_range()?;
    let values: &[f32] = bytemuck::cast_slice(&view);
    for (row, scores) in values.chunks(3).enumerate() {
        println!("example {row}: scores {scores:?}");
    }
    Ok(())
}
