//! The checkpoint (safetensors) loader and the state-dict matching after it: hostile headers,
//! dtypes, shapes and offsets must give errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shadergrad::nn::{Layer, ModuleExt, Sequential};

fuzz_target!(|data: &[u8]| {
    if let Ok(checkpoint) = shadergrad::checkpoint::parse("fuzz.safetensors", data) {
        for (name, dims, values) in &checkpoint.tensors {
            assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}");
        }
        // The model of the seed bn_mlp.safetensors (a PyTorch state dict with batch norm).
        let model = Sequential::new(vec![
            Layer::Linear { inputs: 4, outputs: 8, bias: true },
            Layer::batch_norm_1d(8),
            Layer::RELU,
            Layer::Linear { inputs: 8, outputs: 3, bias: true },
        ]);
        let entries = model.state_dict();
        for strict in [true, false] {
            if let Ok(selection) = shadergrad::state_dict::select(&entries, &checkpoint, "fuzz", strict) {
                for (name, values) in &selection.tensors {
                    let entry = entries.iter().find(|e| &e.name == name).expect("a model tensor");
                    assert_eq!(entry.dims.iter().product::<usize>(), values.len(), "{name}");
                }
            }
        }
    }
});
