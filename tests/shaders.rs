//! Every WGSL file parses and validates with naga, with no adapter needed.

use shadergrad::backend::kernels::{Family, SHARED_FILES};

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
        let known = Family::ALL.iter().any(|f| f.file() == name) || SHARED_FILES.contains(&name.as_str());
        assert!(known, "shaders/{name} is neither listed in kernels::Family::ALL nor a shared part");
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

/// Every family's Rust parameter block is laid out as the WGSL `struct Params` its shader
/// binds at group 0, binding 0: the same fields, in the same order, at the same offsets,
/// and the same size (naga's reflection of the shader).
#[test]
fn every_parameter_block_matches_the_wgsl_struct_it_binds() {
    use shadergrad::backend::kernels::params::layouts;
    let mut checked = Vec::new();
    for (file, size, fields) in layouts() {
        let family = Family::ALL.iter().find(|f| f.file() == file).expect("a family of that file");
        let source = family.source();
        let module = naga::front::wgsl::parse_str(&source).expect("the shader parses");
        let binding = naga::ResourceBinding { group: 0, binding: 0 };
        let var = module
            .global_variables
            .iter()
            .map(|(_, v)| v)
            .find(|v| v.binding.as_ref() == Some(&binding))
            .unwrap_or_else(|| panic!("{file} binds nothing at group 0, binding 0"));
        let naga::TypeInner::Struct { members, span } = &module.types[var.ty].inner else {
            panic!("{file}: binding 0 is not a struct");
        };
        let wgsl: Vec<(String, usize)> =
            members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize)).collect();
        let rust: Vec<(String, usize)> = fields.iter().map(|&(n, o)| (n.to_string(), o)).collect();
        assert_eq!(rust, wgsl, "{file}: the Rust block's (field, offset) against the WGSL struct's");
        assert_eq!(size, *span as usize, "{file}: the Rust block's size against the WGSL struct's");
        checked.push(file);
    }
    // Every shader file has its block (the matmul families share one file).
    let mut files: Vec<&str> = Family::ALL.iter().map(|f| f.file()).collect();
    files.sort_unstable();
    files.dedup();
    assert_eq!(checked.len(), files.len(), "{checked:?}");
}
