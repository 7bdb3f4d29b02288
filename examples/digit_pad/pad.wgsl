// The drawing pad's compute work: strokes drawn into the canvas, and the canvas turned into
// a 28×28 MNIST digit exactly as `shadergrad predict` turns an image into one
// (src/data/images.rs): invert a light background, crop to the ink, fit into 20×20 with a
// triangle filter (the image crate's), and centre by centre of mass.

const SIDE: u32 = 280u;
const MNIST: u32 = 28u;
const BOX: u32 = 20u;
// A quarter of full brightness: fainter ink is no stroke (images.rs's MIN_INK).
const MIN_INK: u32 = 64u;
const MAX_SEGMENTS: u32 = 64u;
const THREADS: u32 = 256u;

struct Segment {
    start: vec2<f32>,
    stop: vec2<f32>,
}

struct Strokes {
    count: u32,
    radius: f32,
    clear: u32,
    unused: u32,
    segments: array<Segment, MAX_SEGMENTS>,
}

// Gray levels in [0, 1], row-major, 1 for white paper.
@group(0) @binding(0) var<storage, read_write> canvas: array<f32>;
@group(0) @binding(1) var<storage, read> strokes: Strokes;
// The model's input: 28×28 ink values in [0, 1], light on dark.
@group(0) @binding(2) var<storage, read_write> digit: array<f32>;
// [1 when the canvas holds a digit, else 0].
@group(0) @binding(3) var<storage, read_write> found: array<u32>;

// Dark ink along each segment, with an antialiased edge; a clear first paints white.
@compute @workgroup_size(16, 16)
fn stroke(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= SIDE || id.y >= SIDE {
        return;
    }
    let i = id.y * SIDE + id.x;
    var v = select(canvas[i], 1.0, strokes.clear != 0u);
    let p = vec2<f32>(f32(id.x) + 0.5, f32(id.y) + 0.5);
    for (var k = 0u; k < min(strokes.count, MAX_SEGMENTS); k++) {
        let s = strokes.segments[k];
        let ab = s.stop - s.start;
        let t = clamp(dot(p - s.start, ab) / max(dot(ab, ab), 1e-6), 0.0, 1.0);
        let d = length(p - (s.start + t * ab));
        v = min(v, 1.0 - clamp(strokes.radius + 0.5 - d, 0.0, 1.0));
    }
    canvas[i] = v;
}

var<workgroup> sums: array<u32, THREADS>;
var<workgroup> lows: array<vec2<u32>, THREADS>;
var<workgroup> highs: array<vec2<u32>, THREADS>;
var<workgroup> fitted: array<f32, 400>;
var<workgroup> mass: array<vec3<f32>, THREADS>;
var<workgroup> light: u32;

// The canvas as the 8-bit gray levels an image file holds.
fn gray(x: u32, y: u32) -> u32 {
    return u32(round(clamp(canvas[y * SIDE + x], 0.0, 1.0) * 255.0));
}

fn ink(x: u32, y: u32) -> u32 {
    let g = gray(x, y);
    return select(g, 255u - g, light != 0u);
}

// Rust's f64::round: halves away from zero (WGSL's round takes halves to even).
fn round_away(v: f32) -> f32 {
    return sign(v) * floor(abs(v) + 0.5);
}

fn reduce_sum(t: u32) -> u32 {
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            sums[t] += sums[t + stride];
        }
        workgroupBarrier();
    }
    return workgroupUniformLoad(&sums[0]);
}

fn reduce_max(t: u32) -> u32 {
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            sums[t] = max(sums[t], sums[t + stride]);
        }
        workgroupBarrier();
    }
    return workgroupUniformLoad(&sums[0]);
}

// The image crate's triangle-filter resampling weights, for output index `o` of `n` from
// `extent` source pixels: the first source index, and the normalised weight of source `i`.
struct Taps {
    left: u32,
    right: u32,
    center: f32,
    scale: f32,
    sum: f32,
}

fn taps(o: u32, extent: u32, n: u32) -> Taps {
    let ratio = f32(extent) / f32(n);
    let sratio = max(ratio, 1.0);
    let center = (f32(o) + 0.5) * ratio;
    let left = u32(clamp(floor(center - sratio), 0.0, f32(extent - 1u)));
    let right = u32(clamp(ceil(center + sratio), f32(left + 1u), f32(extent)));
    var tap = Taps(left, right, center - 0.5, sratio, 0.0);
    for (var i = left; i < right; i++) {
        tap.sum += weight(tap, i);
    }
    return tap;
}

fn weight(tap: Taps, i: u32) -> f32 {
    return max(0.0, 1.0 - abs((f32(i) - tap.center) / tap.scale));
}

@compute @workgroup_size(256)
fn preprocess(@builtin(local_invocation_index) t: u32) {
    // 1. A light border means ink on paper: invert.
    var border = 0u;
    for (var x = t; x < SIDE; x += THREADS) {
        border += gray(x, 0u) + gray(x, SIDE - 1u) + gray(0u, x) + gray(SIDE - 1u, x);
    }
    sums[t] = border;
    let border_sum = reduce_sum(t);
    if t == 0u {
        light = u32(f32(border_sum) / f32(4u * SIDE) > 127.0);
    }
    workgroupBarrier();

    // 2. The brightest ink; none bright enough is no digit.
    var peak = 0u;
    for (var i = t; i < SIDE * SIDE; i += THREADS) {
        peak = max(peak, ink(i % SIDE, i / SIDE));
    }
    sums[t] = peak;
    let top = reduce_max(t);
    for (var i = t; i < MNIST * MNIST; i += THREADS) {
        digit[i] = 0.0;
    }
    if top < MIN_INK {
        if t == 0u {
            found[0] = 0u;
        }
        return;
    }

    // 3. The ink's bounding box: pixels of at least a fifth of the brightest.
    let threshold = top / 5u;
    var low = vec2<u32>(SIDE, SIDE);
    var high = vec2<u32>(0u, 0u);
    for (var i = t; i < SIDE * SIDE; i += THREADS) {
        let p = vec2<u32>(i % SIDE, i / SIDE);
        if ink(p.x, p.y) >= threshold {
            low = min(low, p);
            high = max(high, p);
        }
    }
    lows[t] = low;
    highs[t] = high;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            lows[t] = min(lows[t], lows[t + stride]);
            highs[t] = max(highs[t], highs[t + stride]);
        }
        workgroupBarrier();
    }
    let origin = workgroupUniformLoad(&lows[0]);
    let corner = workgroupUniformLoad(&highs[0]);
    let crop = corner - origin + vec2<u32>(1u, 1u);

    // 4. Fit the crop into 20×20, keeping its aspect ratio.
    let scale = f32(BOX) / f32(max(crop.x, crop.y));
    let size = vec2<u32>(clamp(vec2<f32>(round_away(f32(crop.x) * scale), round_away(f32(crop.y) * scale)), vec2(1.0), vec2(f32(BOX))));
    for (var o = t; o < size.x * size.y; o += THREADS) {
        let tx = taps(o % size.x, crop.x, size.x);
        let ty = taps(o / size.x, crop.y, size.y);
        var v = 0.0;
        for (var y = ty.left; y < ty.right; y++) {
            var row = 0.0;
            for (var x = tx.left; x < tx.right; x++) {
                row += weight(tx, x) / tx.sum * f32(ink(origin.x + x, origin.y + y));
            }
            v += weight(ty, y) / ty.sum * row;
        }
        fitted[o] = round_away(clamp(v, 0.0, 255.0));
    }
    workgroupBarrier();

    // 5. Place it so its centre of mass lands at the centre of 28×28.
    var m = vec3<f32>(0.0);
    for (var o = t; o < size.x * size.y; o += THREADS) {
        let v = fitted[o];
        m += vec3<f32>(v, v * f32(o % size.x), v * f32(o / size.x));
    }
    mass[t] = m;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            mass[t] += mass[t + stride];
        }
        workgroupBarrier();
    }
    let total = workgroupUniformLoad(&mass[0]);
    var c = vec2<f32>(size) / 2.0;
    if total.x > 0.0 {
        c = total.yz / total.x;
    }
    let room = vec2<f32>(vec2<u32>(MNIST, MNIST) - size);
    let offset = vec2<u32>(clamp(vec2<f32>(round_away(f32(MNIST) / 2.0 - c.x), round_away(f32(MNIST) / 2.0 - c.y)), vec2(0.0), room));
    storageBarrier();
    for (var o = t; o < size.x * size.y; o += THREADS) {
        let p = vec2<u32>(o % size.x, o / size.x) + offset;
        digit[p.y * MNIST + p.x] = fitted[o] / 255.0;
    }
    if t == 0u {
        found[0] = 1u;
    }
}
