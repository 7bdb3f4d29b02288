//! `shadergrad bench`

use clap::Args;
use shadergrad::{Device, DeviceOptions, LaunchTime, Result, bench};
use std::process::ExitCode;

#[derive(Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Fewer, smaller cases.
    #[arg(long)]
    quick: bool,
    /// Only the cases whose names contain this text (e.g. `cnn_step`, `conv2d_32x64`).
    #[arg(long)]
    only: Option<String>,
    /// After each case, one more run with every launch timed by the GPU's clock: the time
    /// per op, and the slowest launches (adapters with timestamps).
    #[arg(long)]
    profile: bool,
}

/// How many of a profile's slowest launches the table lists.
const SLOWEST: usize = 12;

pub fn run(options: &DeviceOptions, args: &BenchArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    let mut profiles: Vec<(String, Vec<LaunchTime>)> = Vec::new();
    if !args.json {
        println!("adapter: {}", device.describe());
        println!("kernels: {:?} set, {:?} products", device.kernel_set(), device.matmul_variant());
        println!(
            "{:<26} {:>10} {:>10} {:>8} {:>9} {:>8} {:>9}",
            "case", "first ms", "median ms", "GPU ms", "GFLOP/s", "GB/s", "GPU MiB"
        );
    }
    let wanted = |name: &str| args.only.as_deref().is_none_or(|only| name.contains(only));
    let results = bench::run_all(&device, args.quick, args.profile, &wanted, |m, launches| {
        if !args.json {
            let figure = |v: Option<f64>| v.map(|g| format!("{g:.2}")).unwrap_or_else(|| "-".into());
            let mib = m.gpu_bytes as f64 / (1 << 20) as f64;
            let (gflops, gbps) = (figure(m.gflops), figure(m.gbps));
            let over = m.floor_bytes.map(|f| format!("  ({:.2}× the floor)", m.gpu_bytes as f64 / f as f64));
            let over = over.unwrap_or_default();
            let gpu = m.gpu_ms.map(|g| format!("{g:.3}")).unwrap_or_else(|| "-".into());
            println!(
                "{:<26} {:>10.2} {:>10.3} {gpu:>8} {gflops:>9} {gbps:>8} {mib:>9.2}{over}",
                m.case, m.first_ms, m.median_ms
            );
        }
        match launches {
            Some(launches) if args.json => profiles.push((m.case.clone(), launches.to_vec())),
            Some(launches) => print_profile(launches),
            None => {}
        }
    })?;
    if args.json {
        let info = device.info();
        let cases: Vec<_> = results
            .iter()
            .map(|m| {
                let mut case = serde_json::json!({
                    "case": m.case, "first_ms": m.first_ms, "median_ms": m.median_ms, "gpu_ms": m.gpu_ms,
                    "gflops": m.gflops, "gbps": m.gbps, "gpu_bytes": m.gpu_bytes,
                    "floor_bytes": m.floor_bytes,
                });
                if let Some((_, launches)) = profiles.iter().find(|(name, _)| *name == m.case) {
                    let launches: Vec<_> = launches
                        .iter()
                        .map(|l| {
                            serde_json::json!({
                                "node": l.node.index(), "op": l.op, "entry": l.entry,
                                "shape": l.shape.dims(), "ms": l.ms,
                            })
                        })
                        .collect();
                    case["profile"] = serde_json::Value::Array(launches);
                }
                case
            })
            .collect();
        let json = serde_json::json!({
            "engine": "shadergrad", "adapter": info.name, "backend": format!("{:?}", info.backend),
            "device_type": format!("{:?}", info.device_type), "driver": format!("{} {}", info.driver, info.driver_info),
            "matmul_variant": format!("{:?}", device.matmul_variant()),
            "kernel_set": format!("{:?}", device.kernel_set()), "cases": cases,
        });
        println!("{json}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A profiled run: GPU milliseconds per op, then the slowest launches with their shapes.
fn print_profile(launches: &[LaunchTime]) {
    let total: f64 = launches.iter().map(|l| l.ms).sum();
    println!("  profile: {} launches, {total:.3} ms by the GPU's clock", launches.len());
    for (op, count, ms) in bench::profile_by_op(launches) {
        println!("    {op:<24} {count:>4}× {ms:>9.3} ms {:>5.1} %", 100.0 * ms / total);
    }
    let mut slowest: Vec<&LaunchTime> = launches.iter().collect();
    slowest.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    println!("  slowest launches:");
    for l in slowest.into_iter().take(SLOWEST) {
        let (node, shape) = (l.node.index(), l.shape.to_string());
        println!("    node {node:>4} {:<22} {:<24} {shape:<20} {:>9.3} ms", l.op, l.entry, l.ms);
    }
}
