//! The IDX reader, the gzip layer in front of it, and the MNIST split that pairs images with
//! labels (the input cut in two at its first byte's position).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shadergrad::data::idx::parse_idx("fuzz", data);
    if let Ok(plain) = shadergrad::data::gunzip_if_needed("fuzz.gz", data.to_vec()) {
        let _ = shadergrad::data::idx::parse_idx("fuzz", &plain);
    }
    if let Some(&cut) = data.first() {
        let cut = (cut as usize).min(data.len());
        let _ = shadergrad::data::mnist::parse_split("images", &data[cut..], "labels", &data[..cut]);
    }
});
