//! `shadergrad bench`

use clap::Args;
use shadergrad::{Device, DeviceOptions, Result, bench};
use std::process::ExitCode;

#[derive(Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Fewer, smaller cases.
    #[arg(long)]
    quick: bool,
}

pub fn run(options: &DeviceOptions, args: &BenchArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    if !args.json {
        println!("adapter: {}", device.describe());
        println!(
            "{:<26} {:>10} {:>10} {:>8} {:>9} {:>8} {:>9}",
            "case", "first ms", "median ms", "GPU ms", "GFLOP/s", "GB/s", "GPU MiB"
        );
    }
    let results = bench::run_all(&device, args.quick, |m| {
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
    })?;
    if args.json {
        let info = device.info();
        let cases: Vec<_> = results
            .iter()
            .map(|m| {
                serde_json::json!({
                    "case": m.case, "first_ms": m.first_ms, "median_ms": m.median_ms, "gpu_ms": m.gpu_ms,
                    "gflops": m.gflops, "gbps": m.gbps, "gpu_bytes": m.gpu_bytes,
                    "floor_bytes": m.floor_bytes,
                })
            })
            .collect();
        let json = serde_json::json!({
            "engine": "shadergrad", "adapter": info.name, "backend": format!("{:?}", info.backend),
            "device_type": format!("{:?}", info.device_type), "driver": format!("{} {}", info.driver, info.driver_info),
            "matmul_variant": format!("{:?}", device.matmul_variant()), "cases": cases,
        });
        println!("{json}");
    }
    Ok(ExitCode::SUCCESS)
}
