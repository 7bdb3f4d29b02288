// The pad's frame: the canvas on the left, and on the right the model's ten class
// probabilities as bars, computed here from its logits where they lie on the GPU, each
// labelled with its digit in seven segments; the most probable bar is orange.

const SIDE: f32 = 280.0;
const MARGIN: f32 = 10.0;
// The bars' panel: left edge, baseline, tallest bar, and the slot of each bar.
const PANEL: f32 = 310.0;
const BASELINE: f32 = 255.0;
const TALLEST: f32 = 240.0;
const SLOT: f32 = 28.0;

@group(0) @binding(0) var<storage, read> canvas: array<f32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> found: array<u32>;

@vertex
fn fullscreen(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
}

// Whether `p` (in a 10×18 box) lies on a segment of digit `d` drawn in seven segments.
fn seven_segments(d: u32, p: vec2<f32>) -> bool {
    // Segments a..g as bits, for 0..9.
    let masks = array<u32, 10>(0x3fu, 0x06u, 0x5bu, 0x4fu, 0x66u, 0x6du, 0x7du, 0x07u, 0x7fu, 0x6fu);
    let m = masks[d];
    let w = 2.0;
    let horizontal = p.x >= 1.0 && p.x <= 9.0;
    let left = p.x >= 0.0 && p.x <= w;
    let right = p.x >= 10.0 - w && p.x <= 10.0;
    let top = p.y >= 0.0 && p.y <= 9.0;
    let bottom = p.y >= 9.0 && p.y <= 18.0;
    return ((m & 1u) != 0u && horizontal && p.y >= 0.0 && p.y <= w)
        || ((m & 2u) != 0u && right && top)
        || ((m & 4u) != 0u && right && bottom)
        || ((m & 8u) != 0u && horizontal && p.y >= 18.0 - w && p.y <= 18.0)
        || ((m & 16u) != 0u && left && bottom)
        || ((m & 32u) != 0u && left && top)
        || ((m & 64u) != 0u && horizontal && abs(p.y - 9.0) <= w / 2.0);
}

fn linear(srgb: vec3<f32>) -> vec4<f32> {
    return vec4<f32>(pow(srgb, vec3<f32>(2.2)), 1.0);
}

@fragment
fn frame(@builtin(position) at: vec4<f32>) -> @location(0) vec4<f32> {
    let p = at.xy;
    let background = linear(vec3<f32>(0.16, 0.17, 0.2));
    let c = p - vec2<f32>(MARGIN);
    if c.x >= 0.0 && c.y >= 0.0 && c.x < SIDE && c.y < SIDE {
        let v = canvas[u32(c.y) * u32(SIDE) + u32(c.x)];
        return linear(vec3<f32>(v));
    }
    let slot = (p.x - PANEL) / SLOT;
    if slot < 0.0 || slot >= 10.0 {
        return background;
    }
    let k = u32(slot);
    let within = p.x - PANEL - f32(k) * SLOT;
    if p.y > BASELINE + 4.0 && p.y <= BASELINE + 22.0 && within >= 9.0 && within <= 19.0 {
        if seven_segments(k, vec2<f32>(within - 9.0, p.y - BASELINE - 4.0)) {
            return linear(vec3<f32>(0.85));
        }
        return background;
    }
    if found[0] == 0u || within < 4.0 || within > 24.0 || p.y > BASELINE {
        return background;
    }
    // Softmax of the logits, as the model's probabilities.
    var top = logits[0];
    var best = 0u;
    for (var j = 1u; j < 10u; j++) {
        if logits[j] > top {
            top = logits[j];
            best = j;
        }
    }
    var sum = 0.0;
    for (var j = 0u; j < 10u; j++) {
        sum += exp(logits[j] - top);
    }
    let probability = exp(logits[k] - top) / sum;
    if BASELINE - p.y > max(probability * TALLEST, 1.0) {
        return background;
    }
    return select(linear(vec3<f32>(0.3, 0.55, 0.9)), linear(vec3<f32>(1.0, 0.55, 0.1)), k == best);
}
