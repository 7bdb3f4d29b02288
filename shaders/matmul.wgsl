// C = op(A) · op(B) for a batch of matrices, op = identity or transpose (override constants),
// plus a bias for every row or every column of C where `bias` says so (a matrix product and
// the bias add after it, fused by the plan compiler: the product is never stored alone).
// `main`, `main_large` and `main_wide` compute a block of C per invocation in registers, with no workgroup
// memory and no barriers: on software adapters (lavapipe) that beats shared-memory tiling by
// a wide margin. `main_tiled` stages tiles in workgroup memory, for hardware GPUs.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // Elements between consecutive matrices of the batch; 0 repeats one matrix for all.
    batch_stride_a: u32,
    batch_stride_b: u32,
    batch_stride_c: u32,
    // 1: add to C instead of overwriting it (a product split along k, chunk by chunk).
    accumulate: u32,
    // 0: no bias; 1: C[i, j] += bias[i] (per row); 2: C[i, j] += bias[j] (per column).
    bias_mode: u32,
    // Each matrix of C is the sum of the products of this many consecutive batch entries
    // (1: one entry each), out of `entries` in all.
    sum_over: u32,
    entries: u32,
    // 1: the activation ACTIVATION of the biased product is stored (fused by the plan
    // compiler; only the last launch of a product summed over several sets it).
    activate: u32,
    // The launch's first matrix of C (a product cut into launches along its batch).
    z0: u32,
    // Texels of the texture before the first element of A and of B that the launch reads
    // (wrapping: the texture holds only the entries the launch reads, B after A).
    origin_a: u32,
    origin_b: u32,
    // The batch entries the launch sums, of those its matrices of C sum (a matrix summed
    // over several launches).
    entry_lo: u32,
    entry_hi: u32,
    // How an operand stored along k lies in the texture: 0, its rows one after another; else
    // (a band of k out of it) this many rows to a texel row, each at a multiple of k / 4.
    runs: u32,
    // Texels between consecutive matrices of A and of B in the texture: a quarter of the
    // batch strides where the operands were copied, the padded matrices' size where they
    // were packed (pack.wgsl), 0 for an operand all entries share.
    tex_stride_a: u32,
    tex_stride_b: u32,
}

// 1: A is stored [K, M] and read transposed.
override TRANS_A: u32 = 0u;
// 1: B is stored [N, K] and read transposed.
override TRANS_B: u32 = 0u;
// The activation fused after the product: 0 for none, else its op's position in the table of
// src/ir/ops/elementwise.rs plus one (`fn activation`, generated from that table, is
// appended when the module is loaded).
override ACTIVATION: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// Bound to A when there is no bias.
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
// C again, for entries that store whole vectors (`store4`); an entry binds one or the other.
@group(0) @binding(4) var<storage, read_write> c4: array<vec4<f32>>;
// `main_tex` reads A and B from this instead (A and B stay bound): each texel holds four
// consecutive elements of a row of an operand as stored (a row that does not come in fours
// ends in zeros, and k rows of an operand stored across k are padded to fours with zero
// rows), TEXEL_ROW texels a row, A's first and B's after. On software adapters a storage
// load is a loop over the SIMD lanes, one element each, while a texel load from a storage
// texture is a gather of four elements inlined in the shader (a sampled texture's fetch of
// this format is a call into a function there).
@group(0) @binding(5) var operands: texture_storage_2d<rgba32float, read>;


fn texel(v: u32) -> vec4<f32> {
    return textureLoad(operands, vec2<u32>(v % TEXEL_ROW, v / TEXEL_ROW));
}

// The first texel of row `row` of an operand stored along k (`k4` texels a row), counted
// from the operand's first texel.
fn run_start(row: u32, k4: u32) -> u32 {
    if (p.runs == 0u) {
        return row * k4;
    }
    return (row / p.runs) * TEXEL_ROW + (row % p.runs) * k4;
}

fn load_a(base: u32, row: u32, kk: u32) -> f32 {
    if (TRANS_A == 1u) {
        return a[base + kk * p.m + row];
    }
    return a[base + row * p.k + kk];
}

fn load_b(base: u32, kk: u32, col: u32) -> f32 {
    if (TRANS_B == 1u) {
        return b[base + col * p.k + kk];
    }
    return b[base + kk * p.n + col];
}

// The bias of row `row` of C (0 unless the bias is per row, or when adding to C: a product
// split along k gets its bias with its first chunk, which writes).
fn row_bias(row: u32) -> f32 {
    if (p.bias_mode == 1u && p.accumulate == 0u) {
        return bias[row];
    }
    return 0.0;
}

// The biases of the columns col0 .. col0 + 4 of C (clamped into C), likewise.
fn column_bias(col0: u32) -> vec4<f32> {
    if (p.bias_mode == 2u && p.accumulate == 0u) {
        let last = p.n - 1u;
        return vec4<f32>(bias[min(col0, last)], bias[min(col0 + 1u, last)], bias[min(col0 + 2u, last)], bias[min(col0 + 3u, last)]);
    }
    return vec4<f32>(0.0);
}

// The value stored for a biased product (summed with C's, accumulating): its activation
// where one is fused.
fn activate(v: vec4<f32>) -> vec4<f32> {
    if (ACTIVATION == 0u || p.activate == 0u) {
        return v;
    }
    return vec4<f32>(activation(v.x), activation(v.y), activation(v.z), activation(v.w));
}

// Writes (or adds, accumulating) C[row, col0 .. col0 + 4], inside C only, through the fused
// activation.
fn store(base: u32, row: u32, col0: u32, v: vec4<f32>) {
    if (row >= p.m || col0 >= p.n) {
        return;
    }
    let at = base + row * p.n + col0;
    // C is read only when adding to it (a load costs as much as a store on software
    // adapters), never multiplied by 0: a reused buffer may hold infinities from its last
    // tensor.
    var w = v;
    if (p.accumulate == 1u) {
        w = v + vec4<f32>(c[at], c[min(at + 1u, at + p.n - col0 - 1u)], c[min(at + 2u, at + p.n - col0 - 1u)], c[min(at + 3u, at + p.n - col0 - 1u)]);
    }
    w = activate(w);
    c[at] = w.x;
    if (col0 + 1u < p.n) { c[at + 1u] = w.y; }
    if (col0 + 2u < p.n) { c[at + 2u] = w.z; }
    if (col0 + 3u < p.n) { c[at + 3u] = w.w; }
}

// `store` for a C whose rows come in fours (n a multiple of 4, so every matrix and row starts
// on a vector): one vector store where `store` makes up to four scalar ones. llvmpipe stores
// lane by lane, all four elements of a vector in one turn (the CNN step's plain products,
// most of them the columns' gradient, 92 / 90 → 72 / 72 ms by the GPU's clock,
// BENCHMARKS.md). The textured entry points ending in `4` call it.
fn store4(base: u32, row: u32, col0: u32, v: vec4<f32>) {
    if (row >= p.m || col0 >= p.n) {
        return;
    }
    let at = (base + row * p.n + col0) / 4u;
    var w = v;
    if (p.accumulate == 1u) {
        w = v + c4[at];
    }
    c4[at] = activate(w);
}

// The register-blocked entry points, `main` (8×8 outputs per invocation), `main_large` (32×16,
// for large products) and `main_wide` (32×8 in 16×2 workgroups, for few rows and many
// columns), are written out by kernels/matmul/entries.rs and appended to this file when it is loaded: one block of straight-line code per size, which WGSL cannot
// express as a loop the compiler is sure to unroll into registers.

// The variant for hardware GPUs: a 64×64 tile of C per workgroup of 16×16 invocations (4×4
// each), with 16-deep slices of A and B staged in workgroup memory so each value loaded from
// global memory serves 64 products. Software adapters run the barriers slowly and use `main`.
const TILE: u32 = 64u;
const DEPTH: u32 = 16u;
var<workgroup> tile_a: array<array<f32, TILE>, DEPTH>;
var<workgroup> tile_b: array<array<f32, TILE>, DEPTH>;

// A's element (row, kk), 0 outside the matrix.
fn fetch_a(base: u32, row: u32, kk: u32) -> f32 {
    if (row >= p.m || kk >= p.k) {
        return 0.0;
    }
    return load_a(base, row, kk);
}

fn fetch_b(base: u32, kk: u32, col: u32) -> f32 {
    if (kk >= p.k || col >= p.n) {
        return 0.0;
    }
    return load_b(base, kk, col);
}

@compute @workgroup_size(16, 16, 1)
fn main_tiled(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let tile = wid.y * groups.x + wid.x;
    let tiles_n = (p.n + TILE - 1u) / TILE;
    // Uniform across the workgroup, so the barriers below stay in uniform control flow.
    if (tile >= tiles_n * ((p.m + TILE - 1u) / TILE)) {
        return;
    }
    let tile_row = (tile / tiles_n) * TILE;
    let tile_col = (tile % tiles_n) * TILE;
    let base_c = wid.z * p.batch_stride_c;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let first = wid.z * p.sum_over;
    let last = min(first + p.sum_over, p.entries);
    for (var entry = first; entry < last; entry = entry + 1u) {
    let base_a = entry * p.batch_stride_a;
    let base_b = entry * p.batch_stride_b;
    for (var k0 = 0u; k0 < p.k; k0 = k0 + DEPTH) {
        // 256 invocations stage 16×64 values of each operand, 4 apiece.
        for (var e = flat; e < DEPTH * TILE; e = e + 256u) {
            let kk = e / TILE;
            let x = e % TILE;
            tile_a[kk][x] = fetch_a(base_a, tile_row + x, k0 + kk);
            tile_b[kk][x] = fetch_b(base_b, k0 + kk, tile_col + x);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < DEPTH; kk = kk + 1u) {
            let bv = vec4<f32>(tile_b[kk][lid.x * 4u], tile_b[kk][lid.x * 4u + 1u], tile_b[kk][lid.x * 4u + 2u], tile_b[kk][lid.x * 4u + 3u]);
            acc0 = fma(vec4<f32>(tile_a[kk][lid.y * 4u]), bv, acc0);
            acc1 = fma(vec4<f32>(tile_a[kk][lid.y * 4u + 1u]), bv, acc1);
            acc2 = fma(vec4<f32>(tile_a[kk][lid.y * 4u + 2u]), bv, acc2);
            acc3 = fma(vec4<f32>(tile_a[kk][lid.y * 4u + 3u]), bv, acc3);
        }
        workgroupBarrier();
    }
    }
    let row0 = tile_row + lid.y * 4u;
    let col0 = tile_col + lid.x * 4u;
    if (col0 >= p.n) {
        return;
    }
    let cb = column_bias(col0);
    store(base_c, row0, col0, acc0 + row_bias(min(row0, p.m - 1u)) + cb);
    store(base_c, row0 + 1u, col0, acc1 + row_bias(min(row0 + 1u, p.m - 1u)) + cb);
    store(base_c, row0 + 2u, col0, acc2 + row_bias(min(row0 + 2u, p.m - 1u)) + cb);
    store(base_c, row0 + 3u, col0, acc3 + row_bias(min(row0 + 3u, p.m - 1u)) + cb);
}
