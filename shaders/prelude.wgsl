// Shared by every kernel module: appended to each when it is loaded, with TEXEL_ROW, the
// operand texture's width (src/backend/kernels/pipelines.rs), so that no module repeats it.

// Where an invocation is in its launch: an entry point's parameter.
struct Invocation {
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
}

// The workgroup's number in its launch, x fastest: a launch of more workgroups than x can
// hold folds them over y and z.
fn workgroup_index(inv: Invocation) -> u32 {
    return (inv.workgroup.z * inv.groups.y + inv.workgroup.y) * inv.groups.x + inv.workgroup.x;
}

// The invocation's number in its launch, for workgroups of `size` invocations.
fn invocation_index(inv: Invocation, size: u32) -> u32 {
    return workgroup_index(inv) * size + inv.local;
}

// Invocations of the workgroups that sum with `workgroup_sum`.
const TREE_WIDTH: u32 = 256u;
var<workgroup> tree: array<f32, TREE_WIDTH>;

// The sum of `value` over the invocations of a workgroup of TREE_WIDTH, by a tree in a fixed
// order, so that runs agree bit for bit. Every invocation must call it (it waits at
// barriers), once; each gets the sum.
fn workgroup_sum(local: u32, value: f32) -> f32 {
    tree[local] = value;
    workgroupBarrier();
    for (var half = TREE_WIDTH / 2u; half > 0u; half = half / 2u) {
        if (local < half) {
            tree[local] = tree[local] + tree[local + half];
        }
        workgroupBarrier();
    }
    return tree[0];
}
