//! Every WGSL file parses and validates with naga, with no adapter needed.

use shadergrad::kernels::Family;

#[test]
fn every_shader_parses_and_validates() {
    let mut failures = Vec::new();
    for family in Family::ALL {
        let source = family.source();
        let module = match naga::front::wgsl::parse_str(source) {
            Ok(m) => m,
            Err(e) => {
                failures.push(e.emit_to_string_with_path(source, &format!("shaders/{}", family.file())));
                continue;
            }
        };
        let mut validator =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
        if let Err(e) = validator.validate(&module) {
            failures.push(e.emit_to_string_with_path(source, &format!("shaders/{}", family.file())));
        }
    }
    assert!(failures.is_empty(), "invalid shaders:\n{}", failures.join("\n"));
}

#[test]
fn every_file_in_shaders_is_a_known_family() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for entry in std::fs::read_dir(&dir).expect("shaders/ exists") {
        let name = entry.expect("readable entry").file_name().to_string_lossy().to_string();
        assert!(Family::ALL.iter().any(|f| f.file() == name), "shaders/{name} is not listed in kernels::Family::ALL");
    }
}
