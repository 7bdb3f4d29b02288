//! The CSV reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(table) = shadergrad::data::csv::parse_csv("fuzz.csv", text) {
            assert_eq!(table.data.len(), table.rows * table.cols);
            let _ = table.columns(0..table.cols);
        }
    }
});
