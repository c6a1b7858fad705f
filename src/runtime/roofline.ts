/**
 * Rooflines measured in the same runtime as the model (onnxruntime-web, same EP and thread count), so a
 * benchmark can report efficiency = achieved / roofline:
 *  - matmul rate: one MatMul of the channel-mix key's shape, (T, C) @ (C, F), in GFLOP/s (ingestion is
 *    compute-bound);
 *  - streaming-read bandwidth: a (1, K) @ (K, N) matrix-vector product over a weight of `bandwidthBytes` (default
 *    64 MiB), in GB/s (single-token decoding reads every weight once, so it is bandwidth-bound). Give it the bytes
 *    the model reads per token: a CPU's last-level cache can hold 64 MiB (this machine's L3 is 260 MiB), and a
 *    read that fits in cache is not the bound of a model that does not.
 */
import type * as Ort from "onnxruntime-web";
import { GraphBuilder } from "../onnx/builder.js";
import { DataType } from "../onnx/proto.js";

export interface Rooflines {
  matmulGflops: number;
  matmulShape: [number, number, number];
  bandwidthGBs: number;
  bandwidthBytes: number;
}

function randomMatrix(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    a[i] = x / 2 ** 32 - 0.5;
  }
  return a;
}

async function timeMedian(session: Ort.InferenceSession, feeds: Record<string, Ort.Tensor>, repeats: number) {
  await session.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

async function matmulSession(
  ort: typeof Ort,
  ep: string,
  rows: number,
  k: number,
  n: number,
): Promise<{ s: Ort.InferenceSession; feeds: Record<string, Ort.Tensor> }> {
  const g = new GraphBuilder();
  const x = g.input("x", DataType.FLOAT, [rows, k]);
  g.output("y", g.op("MatMul", [x, g.floatInit("w", [k, n], randomMatrix(k * n, 1))]), DataType.FLOAT, [
    rows,
    n,
  ]);
  const s = await ort.InferenceSession.create(g.encode("roofline", "matmul roofline"), {
    executionProviders: [ep],
  });
  return { s, feeds: { x: new ort.Tensor("float32", randomMatrix(rows * k, 2), [rows, k]) } };
}

export async function measureRooflines(
  ort: typeof Ort,
  opts: { ep?: string; T?: number; C?: number; F?: number; repeats?: number; bandwidthBytes?: number } = {},
): Promise<Rooflines> {
  const ep = opts.ep ?? "wasm";
  const T = opts.T ?? 64;
  const C = opts.C ?? 768;
  const F = opts.F ?? 4 * C;
  const repeats = opts.repeats ?? 5;
  const mm = await matmulSession(ort, ep, T, C, F);
  const tMm = await timeMedian(mm.s, mm.feeds, repeats);
  await mm.s.release();
  const K = 1024;
  const N = Math.max(1024, Math.round((opts.bandwidthBytes ?? 64 * 2 ** 20) / 4 / K / 1024) * 1024);
  const bw = await matmulSession(ort, ep, 1, K, N);
  const tBw = await timeMedian(bw.s, bw.feeds, repeats * 2);
  await bw.s.release();
  return {
    matmulGflops: (2 * T * C * F) / tMm / 1e9,
    matmulShape: [T, C, F],
    bandwidthGBs: (4 * K * N) / tBw / 1e9,
    bandwidthBytes: 4 * K * N,
  };
}
