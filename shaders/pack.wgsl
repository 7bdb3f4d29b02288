// Packs a matrix operand into the plan's operand texture (see matmul.wgsl's `main_tex`) where
// a plain copy cannot: its rows do not come in fours, or its k does. Each stored row of each
// matrix becomes `cols4` texels of four consecutive elements, zero past the row's end; rows
// past `rows` (up to `padded_rows`: k rounded up to four, for an operand stored across k)
// are zeros. Where k is not in fours both operands are packed, so the padded terms of the
// sum are 0 · 0; padding across m or n only makes outputs the product never stores.

struct Params {
    // The first element of the first matrix in `src`, and elements between matrices.
    offset: u32,
    matrix_stride: u32,
    matrices: u32,
    // Stored rows of a matrix and elements in each (its contiguous extent).
    rows: u32,
    cols: u32,
    // Rows written per matrix (`rows` and then zero rows) and texels per row.
    padded_rows: u32,
    cols4: u32,
    // The texel (counted row-major through the texture) the first matrix starts at.
    first_texel: u32,
    // Elements between the starts of consecutive stored rows (`cols` but for a band of k
    // cut out of wider rows).
    row_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var operands: texture_storage_2d<rgba32float, write>;


@compute @workgroup_size(64, 1, 1)
fn pack(inv: Invocation) {
    let t = invocation_index(inv, 64u);
    let per_matrix = p.padded_rows * p.cols4;
    if (t >= p.matrices * per_matrix) {
        return;
    }
    let matrix = t / per_matrix;
    let row = (t % per_matrix) / p.cols4;
    let col = (t % p.cols4) * 4u;
    var v = vec4<f32>(0.0);
    if (row < p.rows) {
        let at = p.offset + matrix * p.matrix_stride + row * p.row_stride;
        let left = p.cols - col;
        v.x = src[at + col];
        if (left > 1u) { v.y = src[at + col + 1u]; }
        if (left > 2u) { v.z = src[at + col + 2u]; }
        if (left > 3u) { v.w = src[at + col + 3u]; }
    }
    let texel = p.first_texel + t;
    textureStore(operands, vec2<u32>(texel % TEXEL_ROW, texel / TEXEL_ROW), v);
}
