// Plain stochastic gradient descent, in place: param ← param − lr · grad.

struct Params {
    n: u32,
    lr: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;

@compute @workgroup_size(256)
fn sgd_step(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = ((wid.z * groups.y + wid.y) * groups.x + wid.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    param[i] = param[i] - p.lr * grad[i];
}
