// Rooflines measured in the same runtime as the ONNX benchmark (Dawn in Node on the NVIDIA machine):
// a streaming-read bandwidth (GB/s) and an fp32 matmul rate (GFLOP/s, a register-blocked tiled WGSL GEMM,
// checked against a CPU dot product). Prints ROOFLINE_JSON {...}. Run by run.sh; not part of the site.
import { adapterSummary, makeGPU } from "./gpuinit.mjs";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timePasses(device, pipeline, bindGroup, dispatch, reps) {
  const enc = device.createCommandEncoder();
  for (let i = 0; i < reps; i++) {
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...dispatch);
    pass.end();
  }
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / reps;
}

function storage(device, bytes, data) {
  const b = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  if (data) device.queue.writeBuffer(b, 0, data);
  return b;
}

async function readBack(device, src, bytes) {
  const dst = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
  device.queue.submit([enc.finish()]);
  await dst.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(dst.getMappedRange().slice(0));
  dst.unmap();
  return out;
}

async function bandwidth(device) {
  console.log("bandwidth: streaming read of 256 MiB");
  const bytes = 256 * 1024 * 1024;
  const WG = 4096;
  const x = storage(device, bytes, new Float32Array(bytes / 4).fill(1));
  const y = storage(device, WG * 256 * 4);
  const module = device.createShaderModule({
    code: `
@group(0) @binding(0) var<storage, read> X: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let stride = n.x * 256u;
  var s = vec4f(0.0);
  for (var i = g.x; i < arrayLength(&X); i += stride) { s += X[i]; }
  Y[g.x] = s.x + s.y + s.z + s.w;
}`,
  });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bg = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: x } },
      { binding: 1, resource: { buffer: y } },
    ],
  });
  await timePasses(device, pipeline, bg, [WG], 3);
  const ms = [];
  for (let i = 0; i < 5; i++) ms.push(await timePasses(device, pipeline, bg, [WG], 20));
  const sums = await readBack(device, y, WG * 256 * 4);
  const total = sums.reduce((a, b) => a + b, 0);
  if (total !== bytes / 4) throw new Error(`bandwidth kernel summed ${total}, expected ${bytes / 4}`);
  x.destroy();
  y.destroy();
  return { bytes, msPerPass: median(ms), GBps: bytes / (median(ms) / 1000) / 1e9, checked: true };
}

async function matmul(device) {
  console.log("matmul: 2048^3 fp32");
  const n = 2048;
  const A = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const B = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const a = storage(device, n * n * 4, A);
  const b = storage(device, n * n * 4, B);
  const c = storage(device, n * n * 4);
  // each workgroup: a 64x64 block of C; each of its 16x16 threads: a 4x4 register tile; K in steps of 16
  const module = device.createShaderModule({
    code: `
const N = ${n}u;
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {
  let tid = l.y * 16u + l.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < N; k0 += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let e = tid * 4u + i;
      As[e] = A[(w.y * 64u + e / 16u) * N + k0 + e % 16u];
      Bs[e] = B[(k0 + e / 64u) * N + w.x * 64u + e % 64u];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = As[(l.y * 4u + i) * 16u + kk];
        bv[i] = Bs[kk * 64u + l.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] += av[i] * bv[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      C[(w.y * 64u + l.y * 4u + i) * N + w.x * 64u + l.x * 4u + j] = acc[i * 4u + j];
    }
  }
}`,
  });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bg = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [a, b, c].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const dispatch = [n / 64, n / 64];
  await timePasses(device, pipeline, bg, dispatch, 2);
  const ms = [];
  for (let i = 0; i < 5; i++) ms.push(await timePasses(device, pipeline, bg, dispatch, 10));
  const C = await readBack(device, c, n * n * 4);
  let worst = 0;
  for (const [r, col] of [
    [0, 0],
    [n - 1, n - 1],
    [123, 1777],
  ]) {
    let s = 0;
    for (let k = 0; k < n; k++) s += A[r * n + k] * B[k * n + col];
    worst = Math.max(worst, Math.abs(s - C[r * n + col]));
  }
  if (!(worst < 1e-2)) throw new Error(`GEMM kernel wrong: max |diff| ${worst}`);
  for (const x of [a, b, c]) x.destroy();
  const flops = 2 * n * n * n;
  return { n, msPerGemm: median(ms), GFLOPs: flops / (median(ms) / 1000) / 1e9, maxAbsDiffVsCpu: worst };
}

// keep the GPU object referenced for the whole run: dawn.node aborts if it is collected while a device lives
const gpu = makeGPU();
globalThis.__gpu = gpu;
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) throw new Error("no WebGPU adapter");
const device = await adapter.requestDevice({
  requiredLimits: {
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  },
});
const result = {
  adapter: adapterSummary(adapter).info,
  bandwidth: await bandwidth(device),
  matmul: await matmul(device),
};
console.log("ROOFLINE_JSON " + JSON.stringify(result));
process.exit(0);
