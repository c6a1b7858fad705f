#!/bin/bash
# Runs on the NVIDIA machine: unpacks what scripts/bench-gpu/pack.sh packed, then the roofline kernels and the
# ONNX benchmark (synthetic-169m: RNN-step generation and parallel-graph ingestion) on ORT's WebGPU EP through
# Dawn's Vulkan backend, then the full-size page's measurements (src/cli/full-size-gpu.ts), and writes
# $OUT/bench-gpu.json. env: STEPS="roofline bench fullsize" (a subset to skip some; also "fused": the fused WGSL
# step, src/cli/fused-gpu-bench.ts, and "threads": ORT's wasm EP at THREADS_LIST threads through the rwkv CLI);
# TOKENS, CHUNKS, GEN, REPEATS (see ort-gpu-bench.ts); FULLSIZE_GEN, PREFILL_TS, GEN_VARIANTS (see
# full-size-gpu.ts); FUSED_GEN, DEPTHS, BATCHES, ROWS_SWEEP, KERNELS, KERNEL_COUNTS, INGEST_T (see
# fused-gpu-bench.ts); "fusedbase": the fused step of the commit packed with BASE_REV (pack.sh), timings only,
# before this commit's.
set -uo pipefail
G=$(cd "$(dirname "$0")" && pwd)
W=/tmp/gpubench
OUT=${OUT:-/tmp/gpubench-out}
mkdir -p "$W" "$OUT"
cp -r "$G/pkg/." "$W/"
for f in $(find "$W" -name '*.xz'); do xz -dc -T0 "$f" > "${f%.xz}" && rm "$f"; done
chmod +x "$W/bin/node"
# the bundled CLI (rwkv.mjs, ORT's Node build inside) imports ORT's wasm glue from beside itself
cp "$W/nm/ort/ort-wasm-simd-threaded.mjs" "$W/nm/ort/ort-wasm-simd-threaded.wasm" "$W/"
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
STEPS=${STEPS:-roofline bench fullsize}
touch "$OUT/roofline.log" "$OUT/bench.log" "$OUT/full-size.log" "$OUT/fused.log" "$OUT/fused-base.log" "$OUT/threads.log"
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
case " $STEPS " in *" roofline "*) timeout 120 ./bin/node roofline.mjs 2>&1 | tee "$OUT/roofline.log" ;; esac
# --liftoff-only: V8's optimising compiler otherwise stalls ~30 s on ORT's wasm
case " $STEPS " in *" bench "*)
  TOKENS=${TOKENS:-64,256,512,1024} CHUNKS=${CHUNKS:-32,64,128} ORT_PATH=./nm/ort/ort.webgpu.min.mjs \
    timeout ${BENCH_TIMEOUT:-400} ./bin/node --liftoff-only bench.mjs 2>&1 | tee "$OUT/bench.log" ;; esac
case " $STEPS " in *" fullsize "*)
  GEN=${FULLSIZE_GEN:-512} ORT_PATH=./nm/ort/ort.webgpu.min.mjs \
    timeout ${FULLSIZE_TIMEOUT:-400} ./bin/node --liftoff-only --expose-gc full-size.mjs 2>&1 | tee "$OUT/full-size.log" | grep -v FULLSIZE_JSON ;; esac
# the base commit's fused step first (pack.sh's BASE_REV), timings only, then this commit's
case " $STEPS " in *" fusedbase "*)
  [ -f fused-base.mjs ] && echo "fused base: $(cat fused-base.rev)" && GEN=${FUSED_GEN:-256} CHECK=0 ROWS_SWEEP= \
    timeout ${FUSED_TIMEOUT:-300} ./bin/node fused-base.mjs 2>&1 | tee "$OUT/fused-base.log" | grep -v FUSED_JSON ;; esac
case " $STEPS " in *" fused "*)
  GEN=${FUSED_GEN:-256} timeout ${FUSED_TIMEOUT:-300} ./bin/node fused.mjs 2>&1 | tee "$OUT/fused.log" | grep -v FUSED_JSON ;; esac
# ORT's wasm EP on N threads (no --liftoff-only: the optimising compiler is part of what is measured; the warm-up
# run absorbs its compile time)
case " $STEPS " in *" threads "*)
  for n in ${THREADS_LIST:-1 2 4 8 16}; do
    echo "THREADS_JSON $(timeout ${THREADS_TIMEOUT:-120} ./bin/node rwkv.mjs bench synthetic-169m --backend ort \
      --threads "$n" --tokens ${THREADS_TOKENS:-32} --repeats 3 --json 2>>"$OUT/threads.err")" | tee -a "$OUT/threads.log"
  done ;; esac
./bin/node -e '
const fs = require("fs");
const pick = (f, tag) => { const l = fs.readFileSync(f, "utf8").split("\n").find((x) => x.startsWith(tag + " ")); return l ? JSON.parse(l.slice(tag.length + 1)) : null; };
const all = (f, tag) => fs.readFileSync(f, "utf8").split("\n").filter((x) => x.startsWith(tag + " {")).map((x) => JSON.parse(x.slice(tag.length + 1)));
const r = { roofline: pick(process.argv[1], "ROOFLINE_JSON"), bench: pick(process.argv[2], "BENCH_JSON"), fullSize: pick(process.argv[3], "FULLSIZE_JSON"), fused: pick(process.argv[4], "FUSED_JSON"), wasmThreads: all(process.argv[5], "THREADS_JSON"), fusedBase: pick(process.argv[7], "FUSED_JSON") };
fs.writeFileSync(process.argv[6], JSON.stringify(r, null, 1));
console.log("wrote", process.argv[6]);
' "$OUT/roofline.log" "$OUT/bench.log" "$OUT/full-size.log" "$OUT/fused.log" "$OUT/threads.log" "$OUT/bench-gpu.json" "$OUT/fused-base.log"
