//! No growth: 10,000 training steps keep GPU allocations and host memory flat. Ignored by
//! default (about a minute); run with `cargo test --release --test soak -- --ignored --nocapture`.

use shadergrad::Device;
use shadergrad::recipes::{self, Overrides, Progress};

/// Resident set size of this process in bytes, from /proc (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
#[ignore]
fn ten_thousand_steps_keep_memory_flat() {
    let device = Device::new().expect("an adapter");
    // mnist-softmax-adam: 80 steps an epoch; 125 epochs are 10,000 steps.
    let recipe =
        recipes::find("mnist-softmax-adam").unwrap().with(&Overrides { epochs: Some(125), ..Overrides::default() });
    let mut samples: Vec<(usize, u64)> = Vec::new();
    let summary = recipes::run(&device, &recipe, &recipes::Paths::default(), |p| {
        if let Progress::Epoch { epoch, .. } = p {
            if let Some(rss) = resident_bytes() {
                samples.push((*epoch, rss));
            }
        }
    })
    .unwrap();
    assert_eq!(summary.steps, 10_000);
    // Plans allocate at compile time only.
    println!(
        "GPU allocations of the training plan: {} before the first step, {} after 10,000",
        summary.allocations_before_training, summary.counters.allocations
    );
    assert_eq!(summary.counters.allocations, summary.allocations_before_training);
    let early = samples.iter().find(|(e, _)| *e == 5).map(|s| s.1).unwrap_or(0);
    let late = samples.last().map(|s| s.1).unwrap_or(0);
    println!(
        "resident memory after epoch 5: {:.1} MiB; after epoch 125: {:.1} MiB",
        early as f64 / 1048576.0,
        late as f64 / 1048576.0
    );
    assert!(late <= early + 8 * 1024 * 1024, "host memory grew from {early} to {late} bytes");
}
