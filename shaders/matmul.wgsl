// C = op(A) · op(B) for a batch of matrices, op = identity or transpose (override constants).
// `main` computes an 8×8 block of C per invocation in registers, with no workgroup memory and
// no barriers: on software adapters (lavapipe) that beats shared-memory tiling by a wide margin.
// `main_tiled` stages tiles in workgroup memory, for hardware GPUs.

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
    _pad1: u32,
}

// 1: A is stored [K, M] and read transposed.
override TRANS_A: u32 = 0u;
// 1: B is stored [N, K] and read transposed.
override TRANS_B: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

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

fn store(base: u32, row: u32, col0: u32, v: vec4<f32>) {
    if (row >= p.m || col0 >= p.n) {
        return;
    }
    let at = base + row * p.n + col0;
    // select, not a multiply by 0: a reused buffer may hold infinities from its last tensor.
    let add = p.accumulate == 1u;
    c[at] = select(v.x, c[at] + v.x, add);
    if (col0 + 1u < p.n) { c[at + 1u] = select(v.y, c[at + 1u] + v.y, add); }
    if (col0 + 2u < p.n) { c[at + 2u] = select(v.z, c[at + 2u] + v.z, add); }
    if (col0 + 3u < p.n) { c[at + 3u] = select(v.w, c[at + 3u] + v.w, add); }
}

// Output tiles of 64×64 are numbered row-major and the numbers folded over x and y of the
// grid, so no grid dimension passes the adapter's limit; z is the batch. Each invocation of the
// 8×8 workgroup computes an 8×8 block of C: 64 accumulators, 16 loads per 64 products.
@compute @workgroup_size(8, 8, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let tile = wid.y * groups.x + wid.x;
    let tiles_n = (p.n + 63u) / 64u;
    let row0 = ((tile / tiles_n) * 8u + lid.y) * 8u;
    let col0 = ((tile % tiles_n) * 8u + lid.x) * 8u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    let base_a = wid.z * p.batch_stride_a;
    let base_b = wid.z * p.batch_stride_b;
    let base_c = wid.z * p.batch_stride_c;
    // Edge blocks clamp their loads into range; the rows and columns past the edge are
    // computed from repeated data and never stored.
    let last_row = vec4<u32>(p.m - 1u);
    let last_col = vec4<u32>(p.n - 1u);
    let rows_lo = min(vec4<u32>(row0, row0 + 1u, row0 + 2u, row0 + 3u), last_row);
    let rows_hi = min(vec4<u32>(row0 + 4u, row0 + 5u, row0 + 6u, row0 + 7u), last_row);
    let cols_lo = min(vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u), last_col);
    let cols_hi = min(vec4<u32>(col0 + 4u, col0 + 5u, col0 + 6u, col0 + 7u), last_col);
    var acc0_lo = vec4<f32>(0.0);
    var acc0_hi = vec4<f32>(0.0);
    var acc1_lo = vec4<f32>(0.0);
    var acc1_hi = vec4<f32>(0.0);
    var acc2_lo = vec4<f32>(0.0);
    var acc2_hi = vec4<f32>(0.0);
    var acc3_lo = vec4<f32>(0.0);
    var acc3_hi = vec4<f32>(0.0);
    var acc4_lo = vec4<f32>(0.0);
    var acc4_hi = vec4<f32>(0.0);
    var acc5_lo = vec4<f32>(0.0);
    var acc5_hi = vec4<f32>(0.0);
    var acc6_lo = vec4<f32>(0.0);
    var acc6_hi = vec4<f32>(0.0);
    var acc7_lo = vec4<f32>(0.0);
    var acc7_hi = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk = kk + 1u) {
        let b_lo = vec4<f32>(load_b(base_b, kk, cols_lo.x), load_b(base_b, kk, cols_lo.y), load_b(base_b, kk, cols_lo.z), load_b(base_b, kk, cols_lo.w));
        let b_hi = vec4<f32>(load_b(base_b, kk, cols_hi.x), load_b(base_b, kk, cols_hi.y), load_b(base_b, kk, cols_hi.z), load_b(base_b, kk, cols_hi.w));
        let a0 = vec4<f32>(load_a(base_a, rows_lo.x, kk));
        acc0_lo = fma(a0, b_lo, acc0_lo);
        acc0_hi = fma(a0, b_hi, acc0_hi);
        let a1 = vec4<f32>(load_a(base_a, rows_lo.y, kk));
        acc1_lo = fma(a1, b_lo, acc1_lo);
        acc1_hi = fma(a1, b_hi, acc1_hi);
        let a2 = vec4<f32>(load_a(base_a, rows_lo.z, kk));
        acc2_lo = fma(a2, b_lo, acc2_lo);
        acc2_hi = fma(a2, b_hi, acc2_hi);
        let a3 = vec4<f32>(load_a(base_a, rows_lo.w, kk));
        acc3_lo = fma(a3, b_lo, acc3_lo);
        acc3_hi = fma(a3, b_hi, acc3_hi);
        let a4 = vec4<f32>(load_a(base_a, rows_hi.x, kk));
        acc4_lo = fma(a4, b_lo, acc4_lo);
        acc4_hi = fma(a4, b_hi, acc4_hi);
        let a5 = vec4<f32>(load_a(base_a, rows_hi.y, kk));
        acc5_lo = fma(a5, b_lo, acc5_lo);
        acc5_hi = fma(a5, b_hi, acc5_hi);
        let a6 = vec4<f32>(load_a(base_a, rows_hi.z, kk));
        acc6_lo = fma(a6, b_lo, acc6_lo);
        acc6_hi = fma(a6, b_hi, acc6_hi);
        let a7 = vec4<f32>(load_a(base_a, rows_hi.w, kk));
        acc7_lo = fma(a7, b_lo, acc7_lo);
        acc7_hi = fma(a7, b_hi, acc7_hi);
    }
    store(base_c, row0 + 0u, col0, acc0_lo);
    store(base_c, row0 + 0u, col0 + 4u, acc0_hi);
    store(base_c, row0 + 1u, col0, acc1_lo);
    store(base_c, row0 + 1u, col0 + 4u, acc1_hi);
    store(base_c, row0 + 2u, col0, acc2_lo);
    store(base_c, row0 + 2u, col0 + 4u, acc2_hi);
    store(base_c, row0 + 3u, col0, acc3_lo);
    store(base_c, row0 + 3u, col0 + 4u, acc3_hi);
    store(base_c, row0 + 4u, col0, acc4_lo);
    store(base_c, row0 + 4u, col0 + 4u, acc4_hi);
    store(base_c, row0 + 5u, col0, acc5_lo);
    store(base_c, row0 + 5u, col0 + 4u, acc5_hi);
    store(base_c, row0 + 6u, col0, acc6_lo);
    store(base_c, row0 + 6u, col0 + 4u, acc6_hi);
    store(base_c, row0 + 7u, col0, acc7_lo);
    store(base_c, row0 + 7u, col0 + 4u, acc7_hi);
}

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
    let base_a = wid.z * p.batch_stride_a;
    let base_b = wid.z * p.batch_stride_b;
    let base_c = wid.z * p.batch_stride_c;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
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
    let row0 = tile_row + lid.y * 4u;
    let col0 = tile_col + lid.x * 4u;
    if (col0 >= p.n) {
        return;
    }
    store(base_c, row0, col0, acc0);
    store(base_c, row0 + 1u, col0, acc1);
    store(base_c, row0 + 2u, col0, acc2);
    store(base_c, row0 + 3u, col0, acc3);
}
