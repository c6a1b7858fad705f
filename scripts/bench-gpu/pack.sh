#!/bin/bash
# npm run bench:gpu — packs the WebGPU benchmark for the NVIDIA machine (no Node, no network there) into
# .gpubench/ (git-ignored, ~35 MB): a stripped Node, Dawn for Node (npm "webgpu"), onnxruntime-web's files,
# src/cli/ort-gpu-bench.ts, full-size-gpu.ts, fused-gpu-bench.ts and the rwkv CLI bundled, the roofline kernels,
# and the Vulkan/GL loader .debs. Then prints the device
# command. On that machine `bash .gpubench/run.sh` prints BENCH_JSON and ROOFLINE_JSON lines and writes
# $OUT/bench-gpu.json. Needs the npm registry and Debian's package index (both reachable here).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D="$ROOT/.gpubench"
WEBGPU_VERSION=0.6.2
rm -rf "$D"
mkdir -p "$D/pkg/bin" "$D/pkg/nm/webgpu/dist/linux-x64" "$D/pkg/nm/ort" "$D/gl"
K="$ROOT/scripts/bench-gpu"
cp "$K"/gpuinit.mjs "$K"/nodeshim.mjs "$K"/roofline.mjs "$D/pkg/"
cp "$K/run.sh" "$D/run.sh"
echo '{"type":"module"}' > "$D/pkg/package.json"

# the benchmark itself: the project's graphs and runtime, bundled (onnxruntime-web and Dawn load at run time)
npx esbuild "$ROOT/src/cli/ort-gpu-bench.ts" --bundle --platform=node --format=esm --log-level=warning \
  --outfile="$D/pkg/bench.mjs"
# the full-size page's own measurements (src/full-size/bench.ts) on the same runtime
npx esbuild "$ROOT/src/cli/full-size-gpu.ts" --bundle --platform=node --format=esm --log-level=warning \
  --outfile="$D/pkg/full-size.mjs"
# the fused WGSL step (src/runtime/fused/): checks against the reference model and timings
npx esbuild "$ROOT/src/cli/fused-gpu-bench.ts" --bundle --platform=node --format=esm --log-level=warning \
  --outfile="$D/pkg/fused.mjs"
# BASE_REV=<commit>: the fused benchmark of that commit too (fused-base.mjs, run.sh's "fusedbase" step), so that
# a change to the kernels is timed against its base on the same GPU in the same call
if [ -n "${BASE_REV:-}" ]; then
  B=$(mktemp -d)
  git -C "$ROOT" archive "$BASE_REV" src | tar -x -C "$B"
  ln -s "$ROOT/node_modules" "$B/node_modules"
  npx esbuild "$B/src/cli/fused-gpu-bench.ts" --bundle --platform=node --format=esm --log-level=warning \
    --outfile="$D/pkg/fused-base.mjs"
  git -C "$ROOT" rev-parse --short "$BASE_REV" > "$D/pkg/fused-base.rev"
  rm -rf "$B"
fi
# the rwkv CLI itself, for ORT's wasm EP on N threads (`bench --threads N`); ORT's Node build imports its wasm
# glue (ort-wasm-simd-threaded.mjs, and that its .wasm) from beside the bundle: run.sh puts them there
npx esbuild "$ROOT/src/cli/rwkv.ts" --bundle --platform=node --format=esm --log-level=warning \
  --outfile="$D/pkg/rwkv.mjs"

strip --strip-all -o "$D/pkg/bin/node" "$(readlink -f "$(command -v node)")"
xz -T2 -6 -f "$D/pkg/bin/node"

# Dawn for Node: installed into a scratch prefix (not a dependency of the project)
NM=$(mktemp -d)
(cd "$NM" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "webgpu@$WEBGPU_VERSION")
cp "$NM/node_modules/webgpu/index.js" "$NM/node_modules/webgpu/package.json" "$D/pkg/nm/webgpu/"
xz -T2 -6 -c "$NM/node_modules/webgpu/dist/linux-x64/dawn.node" > "$D/pkg/nm/webgpu/dist/linux-x64/dawn.node.xz"
rm -rf "$NM"

ORT="$ROOT/node_modules/onnxruntime-web/dist"
for f in ort.webgpu.min.mjs ort.wasm.min.mjs ort-wasm-simd-threaded.asyncify.mjs ort-wasm-simd-threaded.mjs; do
  cp "$ORT/$f" "$D/pkg/nm/ort/"
done
for f in ort-wasm-simd-threaded.asyncify.wasm ort-wasm-simd-threaded.wasm; do
  xz -T2 -6 -c "$ORT/$f" > "$D/pkg/nm/ort/$f.xz"
done

# the Vulkan loader and glvnd (the NVIDIA ICD needs libGLdispatch); unpacked there, never installed here
L=$(mktemp -d)
mkdir -p "$L/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$L"
apt-get $o update >/dev/null
(cd "$D/gl" && apt-get $o download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 >/dev/null 2>&1)
rm -rf "$L"

du -sh "$D"
echo "device command (carry [\".gpubench\"]): bash .gpubench/run.sh"
