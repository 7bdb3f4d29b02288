//! `shadergrad devices`

use shadergrad::Result;
use shadergrad::backend::device::{DeviceOptions, list_adapters};
use std::process::ExitCode;

pub fn run(options: &DeviceOptions) -> Result<ExitCode> {
    let adapters = list_adapters(options);
    if adapters.is_empty() {
        return Err(options.no_adapter());
    }
    for (k, a) in adapters.iter().enumerate() {
        let i = &a.info;
        let l = &a.limits;
        println!("{}{}: {}", if k == 0 { "* " } else { "  " }, k, i.name);
        println!("    backend {:?}, type {:?}, driver {} {}", i.backend, i.device_type, i.driver, i.driver_info);
        println!(
            "    max storage binding {} MiB, max buffer {} MiB, storage buffers per stage {}",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_storage_buffers_per_shader_stage
        );
        println!(
            "    workgroup: {} invocations, size {}×{}×{}, {} KiB shared; {} workgroups per dimension",
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_workgroups_per_dimension
        );
        let has = |f: wgpu::Features| if a.features.contains(f) { "yes" } else { "no" };
        println!(
            "    GPU timestamps: {}, pipeline cache: {}",
            has(wgpu::Features::TIMESTAMP_QUERY),
            has(wgpu::Features::PIPELINE_CACHE)
        );
    }
    println!("(* = the adapter shadergrad opens with these settings)");
    Ok(ExitCode::SUCCESS)
}
