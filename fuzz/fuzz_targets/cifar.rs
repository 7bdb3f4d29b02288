//! The CIFAR-10 binary reader: any bytes are records or a named error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = shadergrad::data::cifar::parse_records("fuzz", data) {
        assert_eq!(shadergrad::data::cifar::records(&images), data);
    }
});
