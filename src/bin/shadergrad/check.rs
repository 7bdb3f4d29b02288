//! `shadergrad check`

use clap::Args;
use shadergrad::check::{self, describe_failure};
use shadergrad::{Device, DeviceOptions, Result};
use std::process::ExitCode;

#[derive(Args)]
pub struct CheckArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Only ops whose name contains this text.
    #[arg(long)]
    op: Option<String>,
    /// Seed of the random shapes and values.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(options: &DeviceOptions, args: &CheckArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    let reports = check::run_suite(&device, args.seed, args.op.as_deref())?;
    let failed = reports.iter().filter(|r| !r.passed()).count();
    if args.json {
        let cases: Vec<_> = reports
            .iter()
            .map(|r| {
                serde_json::json!({
                    "op": r.op, "shapes": r.shapes, "forward_error": r.forward_error,
                    "backward_error": r.has_backward.then_some(r.backward_error),
                    "fd_error": r.has_backward.then_some(r.fd_error), "passed": r.passed(),
                })
            })
            .collect();
        let json = serde_json::json!({
            "adapter": device.info().name, "backend": format!("{:?}", device.info().backend),
            "seed": args.seed, "passed": reports.len() - failed, "failed": failed, "cases": cases,
        });
        println!("{json}");
    } else {
        println!("adapter: {}", device.describe());
        println!("{:<20} {:<28} {:>10} {:>10} {:>10}  result", "op", "shapes", "forward", "backward", "fd");
        for r in &reports {
            let (backward, fd) = if r.has_backward {
                (format!("{:.2e}", r.backward_error), format!("{:.2e}", r.fd_error))
            } else {
                ("-".to_string(), "-".to_string())
            };
            let result = if r.passed() { "pass" } else { "FAIL" };
            println!("{:<20} {:<28} {:>10.2e} {backward:>10} {fd:>10}  {result}", r.op, r.shapes, r.forward_error);
        }
        for r in reports.iter().filter(|r| !r.passed()) {
            eprint!("{}", describe_failure(r));
        }
        println!("{} passed, {} failed", reports.len() - failed, failed);
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
