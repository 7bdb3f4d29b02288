//! The entry points of `shaders/matmul.wgsl` written out per block shape: straight-line
//! code that WGSL cannot express as a loop the compiler is sure to unroll into registers.

/// The components of a `vec4`, in order.
const LANE: [&str; 4] = ["x", "y", "z", "w"];

/// A register-blocked entry point's shape: each invocation of a `wx × wy` workgroup computes
/// `rows × cols` outputs of C (cols a multiple of 4).
#[derive(Clone, Copy)]
pub(super) struct Block {
    rows: usize,
    cols: usize,
    wx: usize,
    wy: usize,
}

impl Block {
    /// Rows and columns of C one workgroup computes.
    pub(super) fn tile(self) -> [u64; 2] {
        [(self.wy * self.rows) as u64, (self.wx * self.cols) as u64]
    }
}

pub(super) const BLOCK: Block = Block { rows: 8, cols: 8, wx: 8, wy: 8 };
pub(super) const BLOCK_LARGE: Block = Block { rows: 32, cols: 16, wx: 8, wy: 8 };
/// For [`MatmulVariant::TexturedSubgroups`](super::MatmulVariant::TexturedSubgroups): as many accumulators as [`BLOCK`], but rows,
/// which a subgroup shares, rather than columns, which each lane fetches for itself (16
/// rows by 4 columns: the CNN step 7 % faster than with 8×8 on lavapipe, matmul 1024² the
/// same; 8×4, 8×16 and 16×8 were no faster than 8×8 on matmul 1024²).
pub(super) const BLOCK_SG: Block = Block { rows: 16, cols: 4, wx: 8, wy: 4 };
/// [`BLOCK_SG`] in 64×64 tiles (two subgroups a row), for adapters whose grids cannot hold
/// a product's 64×32 tiles (they fold over x and y only; z is the batch).
pub(super) const BLOCK_SG_SQUARE: Block = Block { rows: 16, cols: 4, wx: 16, wy: 4 };
/// For few rows and many columns (a convolution's filters times an image's patches): tall
/// blocks in a workgroup only two rows high, so 64 rows fill a tile.
pub(super) const BLOCK_WIDE: Block = Block { rows: 32, cols: 8, wx: 16, wy: 2 };

/// `shaders/matmul.wgsl` with the activations it can fuse and the register-blocked entry points
/// appended.
pub(crate) fn source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let mut s = include_str!("../../../../shaders/matmul.wgsl").to_string();
        s += &super::super::elementwise::activation_source();
        s += &register_blocked_entry("main", BLOCK);
        s += &register_blocked_entry("main_large", BLOCK_LARGE);
        s += &register_blocked_entry("main_wide", BLOCK_WIDE);
        s += &texture_entry("main_tex", BLOCK, false, "store");
        s += &texture_entry("main_tex4", BLOCK, false, "store4");
        s += &tiled_large_entry();
        s
    })
}

/// Rows and columns of C a workgroup of [`tiled_large_entry`] computes.
pub(super) const BIG_TILE: usize = 128;

/// The entry point `main_tiled_large`: a 128×128 tile of C per workgroup of 16×16 threads,
/// each computing rows `4·ty .. 4·ty + 4` and `64 + 4·ty ..` by columns `4·tx .. 4·tx + 4`
/// and `64 + 4·tx ..` (so that a warp's reads of workgroup memory are consecutive vectors),
/// along k in slices of 8 staged in workgroup memory: A's slice transposed and B's as
/// vectors of four along the tile's rows and columns. Each thread stages four elements of
/// each operand per slice and makes 64 products per pair of vector reads. Straight-line code
/// per thread, as the register-blocked entries, so the 64 accumulators stay in registers.
fn tiled_large_entry() -> String {
    use std::fmt::Write;
    let half = BIG_TILE / 2;
    let mut w = String::new();
    let _ = writeln!(w, "\n// A slice of 8 along k of A's tile (transposed: [k][row / 4]) and of B's ([k][col / 4]).");
    let _ = writeln!(w, "var<workgroup> big_a: array<vec4<f32>, {}>;", 8 * BIG_TILE / 4);
    let _ = writeln!(w, "var<workgroup> big_b: array<vec4<f32>, {}>;", 8 * BIG_TILE / 4);
    let _ = writeln!(
        w,
        "@compute @workgroup_size(16, 16, 1)\nfn main_tiled_large(\n    @builtin(workgroup_id) wid: vec3<u32>,\n    \
         @builtin(num_workgroups) groups: vec3<u32>,\n    @builtin(local_invocation_id) lid: vec3<u32>,\n    \
         @builtin(local_invocation_index) flat: u32,\n) {{"
    );
    let _ = writeln!(w, "    let tile = wid.y * groups.x + wid.x;");
    let _ = writeln!(w, "    let tiles_n = (p.n + {}u) / {BIG_TILE}u;", BIG_TILE - 1);
    // Uniform across the workgroup, so the barriers stay in uniform control flow.
    let _ =
        writeln!(w, "    if (tile >= tiles_n * ((p.m + {}u) / {BIG_TILE}u)) {{\n        return;\n    }}", BIG_TILE - 1);
    let _ = writeln!(w, "    let tile_row = (tile / tiles_n) * {BIG_TILE}u;");
    let _ = writeln!(w, "    let tile_col = (tile % tiles_n) * {BIG_TILE}u;");
    let _ = writeln!(w, "    let base_c = wid.z * p.batch_stride_c;");
    for i in 0..8 {
        for g in 0..2 {
            let _ = writeln!(w, "    var acc{i}_{g} = vec4<f32>(0.0);");
        }
    }
    // What each thread stages: four consecutive elements of a stored row (along k for A
    // stored [m, k] and B stored [n, k]; along the tile for the other layouts).
    let _ = writeln!(w, "    let along_k = vec2<u32>(flat / 2u, (flat % 2u) * 4u);");
    let _ = writeln!(w, "    let across_k = vec2<u32>((flat % 32u) * 4u, flat / 32u);");
    let _ = writeln!(w, "    let first = wid.z * p.sum_over;");
    let _ = writeln!(w, "    let last = min(first + p.sum_over, p.entries);");
    let _ = writeln!(w, "    for (var entry = first; entry < last; entry = entry + 1u) {{");
    let _ = writeln!(w, "    let base_a = entry * p.batch_stride_a;");
    let _ = writeln!(w, "    let base_b = entry * p.batch_stride_b;");
    let _ = writeln!(w, "    for (var k0 = 0u; k0 < p.k; k0 = k0 + 8u) {{");
    // An operand stored along k (A as [m, k], B as [n, k]): a thread takes four k of one
    // row or column, each into its own k row of the slice; stored across k: four rows or
    // columns at one k, one vector. (slice, when it lies along k, the tile's origin, the
    // fetch of (place in the operand's rows or columns, k)).
    type Fetch = fn(&str, &str) -> String;
    let operands: [(&str, &str, &str, Fetch); 2] = [
        ("big_a", "TRANS_A == 0u", "tile_row", |at, k| format!("fetch_a(base_a, {at}, {k})")),
        ("big_b", "TRANS_B == 1u", "tile_col", |at, k| format!("fetch_b(base_b, {k}, {at})")),
    ];
    for (slice, along, origin, fetch) in operands {
        let _ = writeln!(w, "        if ({along}) {{");
        for s in 0..4 {
            let value = fetch(&format!("{origin} + along_k.x"), &format!("k0 + along_k.y + {s}u"));
            let _ = writeln!(
                w,
                "            {slice}[(along_k.y + {s}u) * 32u + along_k.x / 4u][along_k.x % 4u] = {value};"
            );
        }
        let _ = writeln!(w, "        }} else {{");
        let loads: Vec<String> =
            (0..4).map(|s| fetch(&format!("{origin} + across_k.x + {s}u"), "k0 + across_k.y")).collect();
        let _ =
            writeln!(w, "            {slice}[across_k.y * 32u + across_k.x / 4u] = vec4<f32>({});", loads.join(", "));
        let _ = writeln!(w, "        }}");
    }
    let _ = writeln!(w, "        workgroupBarrier();");
    let _ = writeln!(w, "        for (var kk = 0u; kk < 8u; kk = kk + 1u) {{");
    let _ = writeln!(w, "            let a0 = big_a[kk * 32u + lid.y];");
    let _ = writeln!(w, "            let a1 = big_a[kk * 32u + 16u + lid.y];");
    let _ = writeln!(w, "            let b0 = big_b[kk * 32u + lid.x];");
    let _ = writeln!(w, "            let b1 = big_b[kk * 32u + 16u + lid.x];");
    for i in 0..8 {
        let a = format!("a{}.{}", i / 4, LANE[i % 4]);
        for g in 0..2 {
            let _ = writeln!(w, "            acc{i}_{g} = fma(vec4<f32>({a}), b{g}, acc{i}_{g});");
        }
    }
    let _ = writeln!(w, "        }}");
    let _ = writeln!(w, "        workgroupBarrier();");
    let _ = writeln!(w, "    }}\n    }}");
    for g in 0..2 {
        let _ = writeln!(w, "    let col{g} = tile_col + {}u + lid.x * 4u;", g * half);
        let _ = writeln!(w, "    let cb{g} = column_bias(col{g});");
    }
    for i in 0..8 {
        let _ = writeln!(w, "    let row{i} = tile_row + {}u + lid.y * 4u;", (i / 4) * half + i % 4);
        let _ = writeln!(w, "    let rb{i} = vec4<f32>(row_bias(min(row{i}, p.m - 1u)));");
        for g in 0..2 {
            let _ = writeln!(w, "    store(base_c, row{i}, col{g}, acc{i}_{g} + rb{i} + cb{g});");
        }
    }
    let _ = writeln!(w, "}}");
    w
}

/// [`source`] with the subgroup entry point `main_tex_sg`: a module of its own, which only
/// devices with the `SUBGROUP` feature can create.
pub(crate) fn subgroup_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        source().to_string()
            + &texture_entry("main_tex_sg", BLOCK_SG, true, "store")
            + &texture_entry("main_tex_sg4", BLOCK_SG, true, "store4")
            + &texture_entry("main_tex_sg_square", BLOCK_SG_SQUARE, true, "store")
            + &texture_entry("main_tex_sg_square4", BLOCK_SG_SQUARE, true, "store4")
    })
}

/// A WGSL entry point in which each invocation of an 8×8 workgroup computes a `rows × cols`
/// block of C (cols a multiple of 4) in registers: per step along k, `cols` loads of B and
/// `rows` of A (the same for all invocations of a row of the workgroup, so broadcast) feed
/// `rows × cols` products. Output blocks are numbered row-major and the numbers folded over x
/// and y of the grid; z is the batch. Edge blocks clamp their loads into range; what they
/// compute past the edge is never stored.
fn register_blocked_entry(name: &str, block: Block) -> String {
    use std::fmt::Write;
    let Block { rows, cols, .. } = block;
    let groups = cols / 4;
    let mut w = block_prologue(name, block, "", false);
    // Matrix z of C sums the products of batch entries z·sum_over onwards.
    let _ = writeln!(w, "    let first = z * p.sum_over;");
    let _ = writeln!(w, "    let last = min(first + p.sum_over, p.entries);");
    let _ = writeln!(w, "    for (var entry = first; entry < last; entry = entry + 1u) {{");
    let _ = writeln!(w, "    let base_a = entry * p.batch_stride_a;");
    let _ = writeln!(w, "    let base_b = entry * p.batch_stride_b;");
    let _ = writeln!(w, "    for (var kk = 0u; kk < p.k; kk = kk + 1u) {{");
    for g in 0..groups {
        let loads: Vec<String> = (0..4).map(|t| format!("load_b(base_b, kk, c{})", 4 * g + t)).collect();
        let _ = writeln!(w, "        let b{g} = vec4<f32>({});", loads.join(", "));
    }
    for i in 0..rows {
        let _ = writeln!(w, "        let a{i} = vec4<f32>(load_a(base_a, r{i}, kk));");
        for g in 0..groups {
            let _ = writeln!(w, "        acc{i}_{g} = fma(a{i}, b{g}, acc{i}_{g});");
        }
    }
    let _ = writeln!(w, "    }}\n    }}");
    block_epilogue(&mut w, block, "store");
    w
}

/// The start of a register-blocked entry point (`kind` says what it reads, for the comment):
/// which block of C the invocation computes (returning if it lies outside C), its rows and
/// columns clamped into range (`r0..`, `c0..`), the matrix `z` of C and its `base_c`, and
/// the zeroed accumulators `acc{row}_{group of 4 columns}`.
fn block_prologue(name: &str, block: Block, kind: &str, subgroup: bool) -> String {
    use std::fmt::Write;
    let Block { rows, cols, wx, wy } = block;
    let [tile_m, tile_n] = block.tile();
    let mut w = String::new();
    let _ =
        writeln!(w, "\n// {rows}×{cols} outputs per invocation{kind}; a {wx}×{wy} workgroup covers {tile_m}×{tile_n}.");
    if subgroup {
        // Naga takes subgroup builtins only in one-dimensional workgroups: the invocation's
        // place in the wx × wy grid is rebuilt from its index.
        let _ = writeln!(
            w,
            "@compute @workgroup_size({}, 1, 1)\nfn {name}(\n    @builtin(workgroup_id) wid: vec3<u32>,\n    \
             @builtin(num_workgroups) groups: vec3<u32>,\n    @builtin(local_invocation_index) index: u32,\n    \
             @builtin(subgroup_invocation_id) lane: u32,\n) {{",
            wx * wy
        );
        let _ = writeln!(w, "    let lid = vec2<u32>(index % {wx}u, index / {wx}u);");
    } else {
        let _ = writeln!(
            w,
            "@compute @workgroup_size({wx}, {wy}, 1)\nfn {name}(\n    @builtin(workgroup_id) wid: vec3<u32>,\n    \
             @builtin(num_workgroups) groups: vec3<u32>,\n    @builtin(local_invocation_id) lid: vec3<u32>,\n) {{"
        );
    }
    let _ = writeln!(w, "    let tile = wid.y * groups.x + wid.x;");
    let _ = writeln!(w, "    let tiles_n = (p.n + {}u) / {tile_n}u;", tile_n - 1);
    let _ = writeln!(w, "    let row0 = ((tile / tiles_n) * {wy}u + lid.y) * {rows}u;");
    let _ = writeln!(w, "    let col0 = ((tile % tiles_n) * {wx}u + lid.x) * {cols}u;");
    if subgroup {
        // A subgroup (a row of the workgroup) leaves together or not at all: every lane of
        // it takes part in its broadcasts, and one past C's columns computes clamped values
        // that `store` drops.
        let _ = writeln!(w, "    if (row0 >= p.m) {{\n        return;\n    }}");
    } else {
        let _ = writeln!(w, "    if (row0 >= p.m || col0 >= p.n) {{\n        return;\n    }}");
    }
    // z0 is 0 but for a textured product cut into launches along its batch.
    let _ = writeln!(w, "    let z = wid.z + p.z0;");
    let _ = writeln!(w, "    let base_c = z * p.batch_stride_c;");
    for i in 0..rows {
        let _ = writeln!(w, "    let r{i} = min(row0 + {i}u, p.m - 1u);");
    }
    for j in 0..cols {
        let _ = writeln!(w, "    let c{j} = min(col0 + {j}u, p.n - 1u);");
    }
    for i in 0..rows {
        for g in 0..cols / 4 {
            let _ = writeln!(w, "    var acc{i}_{g} = vec4<f32>(0.0);");
        }
    }
    w
}

/// The end of a register-blocked entry point: each accumulator plus the fused bias (zeros
/// where there is none) stored into C by `store` (`store` or `store4`, which also apply the
/// fused activation).
fn block_epilogue(w: &mut String, block: Block, store: &str) {
    use std::fmt::Write;
    let groups = block.cols / 4;
    for g in 0..groups {
        let _ = writeln!(w, "    let cb{g} = column_bias(col0 + {}u);", 4 * g);
    }
    for i in 0..block.rows {
        let _ = writeln!(w, "    let rb{i} = vec4<f32>(row_bias(r{i}));");
        for g in 0..groups {
            let _ = writeln!(w, "    {store}(base_c, row0 + {i}u, col0 + {}u, acc{i}_{g} + rb{i} + cb{g});", 4 * g);
        }
    }
    let _ = writeln!(w, "}}");
}

/// The texture-reading twin of [`register_blocked_entry`]: per four steps along k, each
/// invocation fetches `rows + cols` texels (four elements each) for `16 × rows × cols / 4`
/// products. Whichever way an operand is stored, its four-element texels are regrouped into
/// four k-values per row of A (`ak`) and per column of B (`bk`); on a SIMD-per-lane compiler
/// that regrouping is only renaming. Rows that do not come in fours lie in the texture
/// padded to whole texels ([`packings`](super::packings)), so texel counts round up.
fn texture_entry(name: &str, block: Block, subgroup: bool, store: &str) -> String {
    use std::fmt::Write;
    let Block { rows, cols, .. } = block;
    let groups = cols / 4;
    let mut w = block_prologue(name, block, " from texels", subgroup);
    // Texels a row of k, of m and of n takes (rows that do not come in fours are padded).
    let _ = writeln!(w, "    let k4 = (p.k + 3u) / 4u;");
    let _ = writeln!(w, "    let m4 = (p.m + 3u) / 4u;");
    let _ = writeln!(w, "    let n4 = (p.n + 3u) / 4u;");
    // Rows of A and columns of B clamped into range in fours too (texels across rows of a
    // transposed A, across columns of B).
    // (The subgroup variant finds only its lane's, below.)
    if !subgroup {
        for g in 0..rows / 4 {
            let _ = writeln!(w, "    let rq{g} = min(row0 / 4u + {g}u, m4 - 1u);");
        }
    }
    for g in 0..groups {
        let _ = writeln!(w, "    let cq{g} = min(col0 / 4u + {g}u, n4 - 1u);");
    }
    // Where each row of A and column of B starts, for an operand stored along k.
    if subgroup {
        // Of each eight rows, lane l fetches row l's texels (A stored [m, k]), or texel l of
        // the eight that hold the rows' four k-values (stored [k, m]); the subgroup shares
        // them by broadcasts.
        for h in 0..rows / 8 {
            let _ = writeln!(w, "    let ka_lane{h} = run_start(min(row0 + {}u + lane, p.m - 1u), k4);", 8 * h);
            let _ = writeln!(w, "    let rq_lane{h} = min(row0 / 4u + {}u + lane / 4u, m4 - 1u);", 2 * h);
        }
    } else {
        for i in 0..rows {
            let _ = writeln!(w, "    let ka{i} = run_start(r{i}, k4);");
        }
    }
    for j in 0..cols {
        let _ = writeln!(w, "    let kb{j} = run_start(c{j}, k4);");
    }
    let _ = writeln!(w, "    let first = max(z * p.sum_over, p.entry_lo);");
    let _ = writeln!(w, "    let last = min(min(z * p.sum_over + p.sum_over, p.entries), p.entry_hi);");
    let _ = writeln!(w, "    for (var entry = first; entry < last; entry = entry + 1u) {{");
    let _ = writeln!(w, "    let ta0 = entry * p.tex_stride_a - p.origin_a;");
    let _ = writeln!(w, "    let tb0 = entry * p.tex_stride_b - p.origin_b;");
    let _ = writeln!(w, "    for (var t = 0u; t < k4; t = t + 1u) {{");
    for i in 0..rows {
        let _ = writeln!(w, "        var ak{i}: vec4<f32>;");
    }
    for j in 0..cols {
        let _ = writeln!(w, "        var bk{j}: vec4<f32>;");
    }
    // A stored [m, k]: a texel is four k-values of one row. Stored [k, m]: four rows at one
    // k, so four texels (four k) give four rows their four k-values.
    let _ = writeln!(w, "        if (TRANS_A == 0u) {{");
    if subgroup {
        for h in 0..rows / 8 {
            let _ = writeln!(w, "            let mine{h} = texel(ta0 + ka_lane{h} + t);");
        }
    }
    for i in 0..rows {
        if subgroup {
            let _ = writeln!(w, "            ak{i} = subgroupBroadcast(mine{}, {}u);", i / 8, i % 8);
        } else {
            let _ = writeln!(w, "            ak{i} = texel(ta0 + ka{i} + t);");
        }
    }
    let _ = writeln!(w, "        }} else {{");
    if subgroup {
        for h in 0..rows / 8 {
            let _ = writeln!(w, "            let mine{h} = texel(ta0 + (4u * t + lane % 4u) * m4 + rq_lane{h});");
        }
    }
    for g in 0..rows / 4 {
        for s in 0..4 {
            if subgroup {
                let _ =
                    writeln!(w, "            let a{g}_{s} = subgroupBroadcast(mine{}, {}u);", g / 2, 4 * (g % 2) + s);
            } else {
                let _ = writeln!(w, "            let a{g}_{s} = texel(ta0 + (4u * t + {s}u) * m4 + rq{g});");
            }
        }
        regroup(&mut w, 'a', g);
    }
    let _ = writeln!(w, "        }}");
    // B stored [n, k]: a texel is four k-values of one column; stored [k, n]: four columns.
    let _ = writeln!(w, "        if (TRANS_B == 1u) {{");
    for j in 0..cols {
        let _ = writeln!(w, "            bk{j} = texel(tb0 + kb{j} + t);");
    }
    let _ = writeln!(w, "        }} else {{");
    for g in 0..groups {
        for s in 0..4 {
            let _ = writeln!(w, "            let b{g}_{s} = texel(tb0 + (4u * t + {s}u) * n4 + cq{g});");
        }
        regroup(&mut w, 'b', g);
    }
    let _ = writeln!(w, "        }}");
    for lane in LANE {
        for g in 0..groups {
            let _ = writeln!(
                w,
                "        let bv{g}{lane} = vec4<f32>(bk{}.{lane}, bk{}.{lane}, bk{}.{lane}, bk{}.{lane});",
                4 * g,
                4 * g + 1,
                4 * g + 2,
                4 * g + 3
            );
        }
    }
    for i in 0..rows {
        for g in 0..groups {
            for lane in LANE {
                let _ = writeln!(w, "        acc{i}_{g} = fma(vec4<f32>(ak{i}.{lane}), bv{g}{lane}, acc{i}_{g});");
            }
        }
    }
    let _ = writeln!(w, "    }}\n    }}");
    block_epilogue(&mut w, block, store);
    w
}

/// Regroups the four texels `{operand}{g}_0 .. _3` (four steps along k, four rows or columns
/// a texel) into the four k-values of each of those rows or columns, `{operand}k{4g} ..`.
fn regroup(w: &mut String, operand: char, g: usize) {
    use std::fmt::Write;
    for (l, lane) in LANE.iter().enumerate() {
        let _ = writeln!(
            w,
            "            {operand}k{} = vec4<f32>({operand}{g}_0.{lane}, {operand}{g}_1.{lane}, {operand}{g}_2.{lane}, {operand}{g}_3.{lane});",
            4 * g + l
        );
    }
}
