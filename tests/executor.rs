//! The plan keeps its promises: one submit per run, no allocation after compile, shared memory
//! for intermediates, nothing read back unless asked, and errors that name what went wrong.

use shadergrad::ir::autodiff::gradients;
use shadergrad::{Device, Error, Graph, Plan};

fn device() -> Device {
    Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

/// A two-layer model with a loss and SGD updates: a realistic training step.
fn training_graph() -> (Graph, shadergrad::NodeId, Vec<shadergrad::NodeId>) {
    let mut g = Graph::new();
    let x = g.input("x", &[37, 5]).unwrap();
    let y = g.input("y", &[37, 3]).unwrap();
    let w1 = g.param("w1", &[5, 33]).unwrap();
    let b1 = g.param("b1", &[33]).unwrap();
    let w2 = g.param("w2", &[33, 3]).unwrap();
    let h = g.matmul(x, w1).unwrap();
    let h = g.add(h, b1).unwrap();
    let h = g.relu(h).unwrap();
    let out = g.matmul(h, w2).unwrap();
    let loss = g.mse(out, y).unwrap();
    let params = vec![w1, b1, w2];
    let grads = gradients(&mut g, loss, None, &params).unwrap();
    for (&p, &d) in params.iter().zip(&grads) {
        g.sgd_update(p, d, 0.05).unwrap();
    }
    (g, loss, params)
}

#[test]
fn a_training_step_is_one_submit_with_no_allocation_after_compile() {
    let device = device();
    let (g, loss, params) = training_graph();
    let mut plan = Plan::compile(&device, &g, &[loss]).unwrap();
    let wave = |n: usize, f: f32| (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect::<Vec<_>>();
    plan.write_named("x", &wave(37 * 5, 0.7)).unwrap();
    plan.write_named("y", &wave(37 * 3, 1.3)).unwrap();
    plan.write(params[0], &wave(5 * 33, 0.37)).unwrap();
    plan.write(params[2], &wave(33 * 3, 0.91)).unwrap();
    let after_compile = plan.counters();
    assert_eq!(after_compile.submits, 0);

    plan.run().unwrap();
    let after_first = plan.counters();
    assert_eq!(after_first.submits, 1, "one run is one submit");
    assert_eq!(after_first.dispatches, plan.launches() as u64);
    assert_eq!(after_first.readbacks, 0, "nothing is read back unless asked");

    let first_loss = plan.run_and_read(&[loss]).unwrap()[0][0];
    for _ in 0..20 {
        plan.run().unwrap();
    }
    let last_loss = plan.run_and_read(&[loss]).unwrap()[0][0];
    let end = plan.counters();
    assert_eq!(end.submits, 23, "each run, reading or not, is exactly one submit");
    assert_eq!(end.readbacks, 2);
    assert_eq!(end.allocations, after_compile.allocations, "no GPU allocation after compile");
    assert!(last_loss < first_loss, "training lowers the loss: {first_loss} -> {last_loss}");
}

#[test]
fn intermediates_share_buffers_when_their_lifetimes_do_not_overlap() {
    let device = device();
    let mut g = Graph::new();
    let x = g.input("x", &[4096]).unwrap();
    let mut h = x;
    for k in 0..8 {
        h = g.scale(h, 1.0 + k as f32 / 8.0).unwrap();
        h = g.relu(h).unwrap();
    }
    let plan = Plan::compile(&device, &g, &[h]).unwrap();
    // 16 kernels write 16 values; x and the output are kept, and the chain needs only two
    // more buffers in turn (one being read, one being written).
    let storage_buffers = plan.counters().allocations - 2; // minus the uniform block and staging
    assert!(storage_buffers <= 4, "{storage_buffers} storage buffers for a 16-op chain");
    assert_eq!(plan.launches(), 16);
}

#[test]
fn a_chain_with_reused_buffers_computes_the_right_values() {
    let device = device();
    let mut g = Graph::new();
    let x = g.input("x", &[1000]).unwrap();
    let a = g.scale(x, 2.0).unwrap();
    let b = g.scale(a, 3.0).unwrap();
    let c = g.add(a, b).unwrap(); // a is read after b is made: its buffer must survive
    let d = g.relu(c).unwrap();
    let e = g.sub(d, x).unwrap();
    let mut plan = Plan::compile(&device, &g, &[e]).unwrap();
    let xs: Vec<f32> = (0..1000).map(|i| i as f32 / 100.0 - 5.0).collect();
    plan.write(x, &xs).unwrap();
    let got = plan.run_and_read(&[e]).unwrap().remove(0);
    for (i, (&v, &xi)) in got.iter().zip(&xs).enumerate() {
        let want = (8.0 * xi).max(0.0) - xi;
        assert!((v - want).abs() <= 1e-5 * want.abs().max(1.0), "element {i}: {v} vs {want}");
    }
}

#[test]
fn shape_errors_name_the_op_and_both_shapes() {
    let mut g = Graph::new();
    let a = g.input("a", &[4, 3]).unwrap();
    let b = g.input("b", &[5, 2]).unwrap();
    let err = g.matmul(a, b).unwrap_err().to_string();
    assert!(err.contains("matmul") && err.contains("[4, 3]") && err.contains("[5, 2]"), "{err}");
    let err = g.add(a, b).unwrap_err().to_string();
    assert!(err.contains("add") && err.contains("[4, 3]") && err.contains("[5, 2]"), "{err}");
    let err = g.mse(a, b).unwrap_err().to_string();
    assert!(err.contains("mse") && err.contains("[4, 3]") && err.contains("[5, 2]"), "{err}");
    let err = g.reshape(a, &[5]).unwrap_err().to_string();
    assert!(err.contains("reshape") && err.contains("[4, 3]") && err.contains("[5]"), "{err}");
}

#[test]
fn plan_misuse_is_an_error_not_a_panic() {
    let device = device();
    let mut g = Graph::new();
    let x = g.input("x", &[8, 8]).unwrap();
    let h = g.relu(x).unwrap();
    let y = g.scale(h, 2.0).unwrap();
    let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
    let err = plan.write(x, &[1.0; 7]).unwrap_err();
    assert!(matches!(err, Error::DataLength { expected: 64, got: 7, .. }), "{err}");
    assert!(err.to_string().contains("[8, 8]"));
    let err = plan.read(h).unwrap_err().to_string();
    assert!(err.contains("not declared as an output"), "{err}");
    assert!(plan.write(y, &[0.0; 64]).is_err(), "outputs are not writable");
    assert!(plan.write_named("nope", &[0.0]).unwrap_err().to_string().contains("nope"));
}

#[test]
fn an_application_device_can_be_handed_over_and_outputs_stay_on_it() {
    // The application opens its own device, as a renderer would.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle().with_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default())).expect("an adapter");
    let (wdevice, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).expect("a device");
    let device = Device::from_wgpu(wdevice.clone(), queue.clone());
    let mut g = Graph::new();
    let x = g.input("x", &[4, 1]).unwrap();
    let y = g.scale(x, 3.0).unwrap();
    let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
    plan.write(x, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    plan.run().unwrap();
    // The application copies the output into its own buffer, GPU to GPU, and reads that.
    let mine = wdevice.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app"),
        size: 16,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = wdevice.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(plan.buffer(y).unwrap(), 0, &mine, 0, 16);
    queue.submit([encoder.finish()]);
    mine.slice(..).map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    wdevice.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let view = mine.slice(..).get_mapped_range().unwrap();
    assert_eq!(bytemuck::cast_slice::<u8, f32>(&view), &[3.0, 6.0, 9.0, 12.0]);
}

#[test]
fn a_timed_run_reports_the_gpus_own_time_in_the_same_submit() {
    let device = device();
    let mut g = Graph::new();
    let a = g.input("a", &[256, 256]).unwrap();
    let c = g.matmul(a, a).unwrap();
    let mut plan = Plan::compile(&device, &g, &[c]).unwrap();
    plan.write(a, &vec![0.5; 256 * 256]).unwrap();
    let start = std::time::Instant::now();
    let (values, gpu_ms) = plan.run_timed(&[c]).unwrap();
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(values[0][0], 64.0, "256 products of 0.5 · 0.5");
    assert_eq!(plan.counters().submits, 1);
    if device.wgpu_device().features().contains(wgpu::Features::TIMESTAMP_QUERY) {
        let ms = gpu_ms.expect("the adapter has timestamps");
        assert!(ms > 0.0 && ms <= wall_ms, "GPU time {ms} ms within a wall time of {wall_ms} ms");
    } else {
        assert_eq!(gpu_ms, None);
    }
}
