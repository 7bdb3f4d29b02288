//! `shadergrad bench`

use clap::Args;
use shadergrad::{bench, Device, DeviceOptions, Result};
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
        println!("{:<18} {:>12} {:>12} {:>10} {:>12}", "case", "first ms", "median ms", "GFLOP/s", "GPU MiB");
    }
    let results = bench::run_all(&device, args.quick, |m| {
        if !args.json {
            let gflops = m.gflops.map(|g| format!("{g:.2}")).unwrap_or_else(|| "-".into());
            let mib = m.gpu_bytes as f64 / (1 << 20) as f64;
            println!("{:<18} {:>12.2} {:>12.3} {:>10} {:>12.2}", m.case, m.first_ms, m.median_ms, gflops, mib);
        }
    })?;
    if args.json {
        let info = device.info();
        let cases: Vec<_> = results
            .iter()
            .map(|m| {
                serde_json::json!({
                    "case": m.case, "first_ms": m.first_ms, "median_ms": m.median_ms,
                    "gflops": m.gflops, "gpu_bytes": m.gpu_bytes,
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
