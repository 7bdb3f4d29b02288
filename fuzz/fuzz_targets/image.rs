//! The image path of `predict`: decode, invert, crop, fit and centre a digit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(pixels)) = shadergrad::data::images::digit_from_bytes("fuzz.png", data) {
        assert_eq!(pixels.len(), 28 * 28);
        assert!(pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    }
});
