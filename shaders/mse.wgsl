// Mean squared error between a prediction and an expected value of the same shape, and its gradient.

struct Params {
    n: u32,
    // 1/n for the forward pass, 2/n for the backward pass.
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WIDE: u32 = 256u;
var<workgroup> partial: array<f32, WIDE>;

// Both entry points share one layout; mse_forward leaves `grad` unused (bound to `pred`).
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> expected: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// One workgroup: a loss is one number, and its inputs are a batch of predictions.
@compute @workgroup_size(256)
fn mse_forward(@builtin(local_invocation_index) lid: u32) {
    var sum = 0.0;
    for (var i = lid; i < p.n; i = i + WIDE) {
        let d = pred[i] - expected[i];
        sum = fma(d, d, sum);
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var half = WIDE / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            partial[lid] = partial[lid] + partial[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[0] = partial[0] * p.scale;
    }
}

// d loss / d pred = grad · 2 (pred − expected) / n, with grad the upstream gradient of the loss.
@compute @workgroup_size(256)
fn mse_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.y * groups.x + wid.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = grad[0] * p.scale * (pred[i] - expected[i]);
}
