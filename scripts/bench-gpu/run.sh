#!/bin/bash
# Runs on the NVIDIA machine: unpacks what scripts/bench-gpu/pack.sh packed, then the roofline kernels and the
# ONNX benchmark (synthetic-169m: RNN-step generation and parallel-graph ingestion) on ORT's WebGPU EP through
# Dawn's Vulkan backend, and writes $OUT/bench-gpu.json. env: TOKENS, CHUNKS, GEN, REPEATS (see ort-gpu-bench.ts).
set -uo pipefail
G=$(cd "$(dirname "$0")" && pwd)
W=/tmp/gpubench
OUT=${OUT:-/tmp/gpubench-out}
mkdir -p "$W" "$OUT"
cp -r "$G/pkg/." "$W/"
for f in $(find "$W" -name '*.xz'); do xz -dc -T0 "$f" > "${f%.xz}" && rm "$f"; done
chmod +x "$W/bin/node"
for f in "$G"/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export VK_ICD_FILENAMES=$VK_DRIVER_FILES
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/local/nvidia/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export XDG_RUNTIME_DIR=/tmp
cd "$W"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
./bin/node --version
timeout 120 ./bin/node roofline.mjs 2>&1 | tee "$OUT/roofline.log"
# --liftoff-only: V8's optimising compiler otherwise stalls ~30 s on ORT's wasm
TOKENS=${TOKENS:-64,256,512,1024} CHUNKS=${CHUNKS:-32,64,128} ORT_PATH=./nm/ort/ort.webgpu.min.mjs \
  timeout ${BENCH_TIMEOUT:-400} ./bin/node --liftoff-only bench.mjs 2>&1 | tee "$OUT/bench.log"
./bin/node -e '
const fs = require("fs");
const pick = (f, tag) => { const l = fs.readFileSync(f, "utf8").split("\n").find((x) => x.startsWith(tag + " ")); return l ? JSON.parse(l.slice(tag.length + 1)) : null; };
const r = { roofline: pick(process.argv[1], "ROOFLINE_JSON"), bench: pick(process.argv[2], "BENCH_JSON") };
fs.writeFileSync(process.argv[3], JSON.stringify(r, null, 1));
console.log("wrote", process.argv[3]);
' "$OUT/roofline.log" "$OUT/bench.log" "$OUT/bench-gpu.json"
