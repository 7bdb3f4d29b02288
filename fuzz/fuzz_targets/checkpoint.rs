//! The checkpoint (safetensors) loader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(checkpoint) = shadergrad::checkpoint::parse("fuzz.safetensors", data) {
        for (name, dims, values) in &checkpoint.tensors {
            assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}");
        }
    }
});
