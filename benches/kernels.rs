//! Criterion benchmarks of the cases `shadergrad bench` times (src/bench.rs prepares them
//! for both): matmuls, convolutions and both gradients at the course's shapes, max pooling,
//! fused cross-entropy, and the MLP, CNN and deep-CNN training steps. Each iteration waits
//! for the GPU, so it measures finished work. Run: `cargo bench --bench kernels`.

use criterion::{Criterion, criterion_group, criterion_main};
use shadergrad::Device;
use std::time::Duration;

fn benches(c: &mut Criterion) {
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    eprintln!("adapter: {}", device.describe());
    shadergrad::bench::each_case(&device, false, &|_| true, |mut case| {
        // One first run outside the samples: it pays for shader compilation.
        case.run()?;
        c.bench_function(&case.name.clone(), |bench| bench.iter(|| case.run().expect("a benchmark run")));
        Ok(())
    })
    .expect("benchmark cases");
}

criterion_group! {
    name = kernels;
    // Software adapters are slow: few samples, a short measurement.
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(kernels);
