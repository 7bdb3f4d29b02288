#!/usr/bin/env bash
# The checks and timings for a GPU machine lent by the session's device tool
# (../shared/GPU.md): list adapters, run the op conformance suite, time every bench case,
# and time the same cases in PyTorch (CUDA, TF32 off) in the same call. Everything lands in
# $OUT. Prepare beforehand, here: `cargo build --release` and the Vulkan loader packages in
# .gl/ (GPU.md step 1); carry `.gl` and `target/release/shadergrad`.
#
#   bash benches/gpu_run.sh            # on the GPU machine, from the repository root
set -uo pipefail
OUT="${OUT:-/tmp/shadergrad-gpu}"
BIN="${BIN:-target/release/shadergrad}"
mkdir -p "$OUT"
if compgen -G ".gl/*.deb" > /dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/shadergrad-xdg}"
mkdir -p "$XDG_RUNTIME_DIR"
export SHADERGRAD_BACKEND=vulkan
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true; } > "$OUT/gpu.txt" 2>&1
if ! "$BIN" devices > "$OUT/devices.txt" 2>&1; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    "$BIN" devices > "$OUT/devices.txt" 2>&1
fi
cat "$OUT/devices.txt"
# The suite first: figures from wrong kernels are worth nothing.
"$BIN" check > "$OUT/check.txt" 2>&1
tail -1 "$OUT/check.txt"
"$BIN" bench --json > "$OUT/shadergrad.json" 2> "$OUT/bench.err"
python3 benches/pytorch_baseline.py --device cuda > "$OUT/pytorch.json" 2> "$OUT/pytorch.err"
python3 benches/compare.py "$OUT/shadergrad.json" "$OUT/pytorch.json" | tee "$OUT/compare.md"
# The large tiles (`tiled-large`, not yet measured on a GPU) beside the default 64×64 ones:
# their checks, then the matmul cases and the training steps, against the same PyTorch run.
export SHADERGRAD_MATMUL=tiled-large
"$BIN" check --op matmul > "$OUT/check-tiled-large.txt" 2>&1
tail -1 "$OUT/check-tiled-large.txt"
"$BIN" bench --json --only matmul > "$OUT/shadergrad-tiled-large.json" 2> "$OUT/bench-tiled-large.err"
"$BIN" bench --json --only step > "$OUT/shadergrad-tiled-large-steps.json" 2>> "$OUT/bench-tiled-large.err"
python3 benches/compare.py "$OUT/shadergrad-tiled-large.json" "$OUT/pytorch.json" | tee "$OUT/compare-tiled-large.md"
python3 benches/compare.py "$OUT/shadergrad-tiled-large-steps.json" "$OUT/pytorch.json" | tee -a "$OUT/compare-tiled-large.md"
# The software adapters' plans (textured products, direct first layers) on the same card:
# whether any of their choices would serve a GPU too.
unset SHADERGRAD_MATMUL
SHADERGRAD_KERNELS=software "$BIN" bench --json --only step > "$OUT/shadergrad-software-steps.json" 2> "$OUT/bench-software.err"
python3 benches/compare.py "$OUT/shadergrad-software-steps.json" "$OUT/pytorch.json" | tee "$OUT/compare-software.md"
