//! Every WGSL file parses and validates with naga, with no adapter needed.

use shadergrad::backend::kernels::Family;

#[test]
fn every_shader_parses_and_validates() {
    let mut failures = Vec::new();
    for family in Family::ALL {
        let source = family.source();
        let module = match naga::front::wgsl::parse_str(&source) {
            Ok(m) => m,
            Err(e) => {
                failures.push(e.emit_to_string_with_path(&source, &format!("shaders/{}", family.file())));
                continue;
            }
        };
        let mut validator =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
        if let Err(e) = validator.validate(&module) {
            failures.push(e.emit_to_string_with_path(&source, &format!("shaders/{}", family.file())));
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

#[test]
fn every_shader_reading_the_operand_texture_lays_texels_out_as_the_plan_copies_them() {
    let declared = format!("const TEXEL_ROW: u32 = {}u;", shadergrad::backend::kernels::matmul::TEXEL_ROW);
    let mut readers = 0;
    for family in Family::ALL {
        let source = family.source();
        if source.contains("texture_storage_2d<rgba32float, read>") {
            readers += 1;
            assert!(source.contains(&declared), "shaders/{} does not declare `{declared}`", family.file());
        }
    }
    // matmul, pool2d and conv2d.
    assert!(readers >= 3, "{readers} shaders read the texture");
}
