/**
 * The RNN step through ORT's WebGPU graph capture (session option `enableGraphCapture`): ORT records the
 * step's GPU dispatches on its first run and afterwards replays them, skipping the per-node CPU work (kernel
 * dispatch, shape checks, buffer allocation, bind groups: ~50 us per node, measured on an H200 with 549 nodes).
 *
 * Capture needs every input and output in a GPU buffer that never changes (onnxruntime-web binds them once, on
 * the first run). So this class owns fixed buffers: the token id (written with `queue.writeBuffer` before each
 * step), the five state inputs, the five state outputs and the logits. After each run one command buffer copies
 * the state outputs back into the state inputs (ORT may run the graph more than once on its first call, to
 * warm up and then capture; outputs never alias inputs, so every run computes the same thing) and the logits
 * into a mappable buffer that is read back.
 *
 * The state a captured step returns is a live view of the input buffers: valid until the next captured step
 * (using it afterwards throws a `bad-state` error); `read()` it or pass it on before stepping again.
 */
import type * as Ort from "onnxruntime-web";
import { GraphBuilder } from "../onnx/builder.js";
import { LOGITS, STATE_NAMES, stateIn, stateOut, type StateName } from "../onnx/names.js";
import { DataType } from "../onnx/proto.js";
import type { RwkvConfig, RwkvState } from "../rwkv/weights.js";
import { OrtRwkvError } from "./errors.js";

/* The few WebGPU calls used here (TypeScript's DOM lib has no WebGPU types). */
export interface GpuBufferLike {
  readonly size: number;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}
export interface GpuDeviceLike {
  createBuffer(d: { size: number; usage: number; label?: string }): GpuBufferLike;
  createCommandEncoder(): {
    copyBufferToBuffer(src: GpuBufferLike, so: number, dst: GpuBufferLike, d: number, n: number): void;
    finish(): unknown;
  };
  queue: {
    writeBuffer(b: GpuBufferLike, offset: number, data: ArrayBufferView): void;
    submit(cmds: unknown[]): void;
  };
}

// GPUBufferUsage / GPUMapMode values (the globals are missing in Node)
const MAP_READ = 0x1;
const COPY_DST = 0x8;

/** Where a state lives, for the captured path: its own live buffers, a GPU tensor, or CPU data. */
export interface LiveTag {
  readonly owner: CapturedStep;
  readonly version: number;
}

/** What a captured graph takes and gives: `ids` int64 ids of `n` tokens in, `logitRows` rows of V logits out. */
export interface CaptureShape {
  /** the graph's token input name (names.ts TOKEN or TOKENS) */
  ids: string;
  /** tokens per run (1 for the RNN step, the chunk length for the parallel graph) */
  n: number;
  /** rows of logits per run (1 for the step and for the parallel graph's "last", else n) */
  logitRows: number;
  /** dims of the logits output as the graph declares them */
  logitDims: number[];
}

export class CapturedStep {
  private readonly token: GpuBufferLike;
  private readonly ins: Record<StateName, GpuBufferLike>;
  private readonly outs: Record<StateName, GpuBufferLike>;
  private readonly logits: GpuBufferLike;
  private readonly staging: GpuBufferLike;
  private readonly feeds: Record<string, Ort.Tensor>;
  private readonly fetches: Record<string, Ort.Tensor>;
  /** incremented by every step: a live state with an older version was overwritten */
  version = 0;
  /** number of session runs so far */
  runs = 0;
  private disposed = false;

  /**
   * The fixed buffers come from ORT itself: onnxruntime-web 1.30 registers a buffer of our own
   * (`Tensor.fromGpuBuffer`) anew on every run and releases its handle after the run, while a captured session
   * keeps the handles bound on its first run, so the second run fails ("Failed to read the 'buffer' property
   * from 'GPUBufferBinding'", seen in Chromium). Buffers that ORT allocated as gpu-buffer outputs stay registered
   * for as long as their tensor lives, so a one-off graph (`Expand` of one value to each needed size) makes them.
   */
  static async create(
    ort: typeof Ort,
    session: Ort.InferenceSession,
    device: GpuDeviceLike,
    config: RwkvConfig,
    sessionOptions: Ort.InferenceSession.SessionOptions,
    shape: CaptureShape,
  ): Promise<CapturedStep> {
    const { nLayer: L, nEmbd: C, vocabSize: V } = config;
    // sizes in floats (int64 token ids take 2 each)
    const sizes: Record<string, number> = { token: 2 * shape.n, logits: shape.logitRows * V };
    for (const s of STATE_NAMES) sizes[`in_${s}`] = sizes[`out_${s}`] = L * C;
    const g = new GraphBuilder();
    const seed = g.input("seed", DataType.FLOAT, [1]);
    for (const [name, n] of Object.entries(sizes)) {
      g.op("Expand", [seed, g.constI([n])], {}, name);
      g.output(name, name, DataType.FLOAT, [n]);
    }
    const alloc = await ort.InferenceSession.create(g.encode("rwkv_capture_buffers", "fixed GPU buffers"), {
      ...sessionOptions,
      enableGraphCapture: false,
      preferredOutputLocation: "gpu-buffer",
    });
    try {
      const out = await alloc.run({ seed: new ort.Tensor("float32", Float32Array.of(0), [1]) });
      const held = Object.values(out);
      const b = (name: string) => {
        const t = out[name];
        if (t.location !== "gpu-buffer")
          throw new Error(`ORT returned ${name} on '${t.location}', not the GPU`);
        return t.gpuBuffer as unknown as GpuBufferLike;
      };
      const ins = {} as Record<StateName, GpuBufferLike>;
      const outs = {} as Record<StateName, GpuBufferLike>;
      for (const s of STATE_NAMES) {
        ins[s] = b(`in_${s}`);
        outs[s] = b(`out_${s}`);
      }
      return new CapturedStep(ort, session, device, config, shape, {
        token: b("token"),
        logits: b("logits"),
        ins,
        outs,
        release: async () => {
          for (const t of held) t.dispose();
          await alloc.release();
        },
      });
    } catch (e) {
      await alloc.release();
      throw e;
    }
  }

  private readonly release: () => Promise<void>;

  private constructor(
    private readonly ort: typeof Ort,
    readonly session: Ort.InferenceSession,
    private readonly device: GpuDeviceLike,
    private readonly config: RwkvConfig,
    readonly shape: CaptureShape,
    bufs: {
      token: GpuBufferLike;
      logits: GpuBufferLike;
      ins: Record<StateName, GpuBufferLike>;
      outs: Record<StateName, GpuBufferLike>;
      release: () => Promise<void>;
    },
  ) {
    const { nLayer: L, nEmbd: C, vocabSize: V } = config;
    this.token = bufs.token;
    this.logits = bufs.logits;
    this.ins = bufs.ins;
    this.outs = bufs.outs;
    this.release = bufs.release;
    this.staging = device.createBuffer({
      size: Math.ceil((4 * V * shape.logitRows) / 16) * 16,
      usage: MAP_READ | COPY_DST,
      label: "rwkv.logits.read",
    });
    const t = (b: GpuBufferLike, type: "float32" | "int64", dims: number[]) => this.wrap(b, type, dims);
    this.feeds = { [shape.ids]: t(this.token, "int64", [shape.n]) };
    this.fetches = { [LOGITS]: t(this.logits, "float32", shape.logitDims) };
    for (const s of STATE_NAMES) {
      this.feeds[stateIn(s)] = t(this.ins[s], "float32", [L, C]);
      this.fetches[stateOut(s)] = t(this.outs[s], "float32", [L, C]);
    }
  }

  /** An ORT tensor over one of our buffers (downloadable, never disposing it). */
  private wrap(b: GpuBufferLike, type: "float32" | "int64", dims: number[]): Ort.Tensor {
    return this.ort.Tensor.fromGpuBuffer(
      b as never,
      {
        dataType: type,
        dims,
        download: async () => {
          const n = dims.reduce((a, x) => a * x, 1);
          const data = await this.download(b, (type === "int64" ? 8 : 4) * n);
          return type === "int64" ? new BigInt64Array(data) : new Float32Array(data);
        },
      } as never,
    ) as Ort.Tensor;
  }

  /**
   * Fresh tensor objects over the state input buffers, for the state a step returns (fresh because
   * `Tensor.getData()` turns a tensor into a CPU tensor, which must never happen to the bound feeds).
   */
  stateTensors(): Record<StateName, Ort.Tensor> {
    const { nLayer: L, nEmbd: C } = this.config;
    const out = {} as Record<StateName, Ort.Tensor>;
    for (const s of STATE_NAMES) out[s] = this.wrap(this.ins[s], "float32", [L, C]);
    return out;
  }

  /** Copy `size` bytes of a GPU buffer to the CPU (through a mappable buffer). */
  private async download(b: GpuBufferLike, size: number): Promise<ArrayBuffer> {
    const padded = Math.ceil(size / 4) * 4;
    const read = this.device.createBuffer({ size: padded, usage: MAP_READ | COPY_DST });
    try {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(b, 0, read, 0, padded);
      this.device.queue.submit([enc.finish()]);
      await read.mapAsync(MAP_READ);
      return read.getMappedRange().slice(0, size);
    } finally {
      read.destroy();
    }
  }

  /** Put a state into the input buffers (nothing to do for the current live state). */
  load(state: { tensors?: Record<StateName, Ort.Tensor>; live?: LiveTag } | RwkvState | "initial"): void {
    const { nLayer: L, nEmbd: C } = this.config;
    const bytes = 4 * L * C;
    if (state === "initial") {
      for (const s of STATE_NAMES) {
        const d = new Float32Array(L * C);
        if (s === "p") d.fill(-1e38);
        this.device.queue.writeBuffer(this.ins[s], 0, d);
      }
      return;
    }
    if (Array.isArray(state)) {
      for (const s of STATE_NAMES) {
        const d = new Float32Array(L * C);
        for (let l = 0; l < L; l++) d.set(state[l][s], l * C);
        this.device.queue.writeBuffer(this.ins[s], 0, d);
      }
      return;
    }
    const st = state as { tensors: Record<StateName, Ort.Tensor>; live?: LiveTag };
    if (st.live?.owner === this) {
      if (st.live.version !== this.version) throw staleError();
      return; // already in place
    }
    if (st.live) st.live.owner.checkLive(st.live); // another captured graph's current state: copied below
    let enc: ReturnType<GpuDeviceLike["createCommandEncoder"]> | undefined;
    for (const s of STATE_NAMES) {
      const t = st.tensors[s];
      if (t.size !== L * C)
        throw new OrtRwkvError("bad-state", `state ${s} has ${t.size} values, this model needs ${L} x ${C}`);
      if (t.location === "gpu-buffer") {
        enc ??= this.device.createCommandEncoder();
        enc.copyBufferToBuffer(t.gpuBuffer as unknown as GpuBufferLike, 0, this.ins[s], 0, bytes);
      } else if (t.location === "cpu") {
        this.device.queue.writeBuffer(this.ins[s], 0, t.data as Float32Array);
      } else {
        throw new OrtRwkvError(
          "bad-state",
          `a state tensor on '${t.location}' cannot feed the captured step`,
        );
      }
    }
    if (enc) this.device.queue.submit([enc.finish()]);
  }

  /**
   * Where the last step with read-back spent its time (benchmarks): `runMs` in ORT's session.run (the replay,
   * CPU side), `readMs` from then until the logits were on the CPU (the GPU finishing, the copy, the map)
   */
  lastTiming: { runMs: number; readMs: number } | undefined;

  /**
   * One run on `shape.n` tokens from the state in the input buffers; afterwards they hold the next state.
   * The logits are read back (a wait for the GPU) unless `readLogits` is false: RNN-mode prompt ingestion needs
   * only the last token's, so earlier steps are queued without waiting.
   */
  async step(ids: BigInt64Array, readLogits: false): Promise<undefined>;
  async step(ids: BigInt64Array, readLogits?: true): Promise<Float32Array>;
  async step(ids: BigInt64Array, readLogits = true): Promise<Float32Array | undefined> {
    if (this.disposed) throw new OrtRwkvError("disposed", "this model was disposed");
    if (ids.length !== this.shape.n)
      throw new OrtRwkvError("unsupported", `captured graph takes ${this.shape.n} tokens, got ${ids.length}`);
    const t0 = performance.now();
    this.device.queue.writeBuffer(this.token, 0, ids);
    await this.session.run(this.feeds, this.fetches);
    const t1 = performance.now();
    this.runs++;
    this.version++;
    const { nLayer: L, nEmbd: C, vocabSize: V } = this.config;
    const enc = this.device.createCommandEncoder();
    for (const s of STATE_NAMES) enc.copyBufferToBuffer(this.outs[s], 0, this.ins[s], 0, 4 * L * C);
    const bytes = 4 * V * this.shape.logitRows;
    if (!readLogits) {
      this.device.queue.submit([enc.finish()]);
      return undefined;
    }
    enc.copyBufferToBuffer(this.logits, 0, this.staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await this.staging.mapAsync(MAP_READ);
    const logits = new Float32Array(this.staging.getMappedRange().slice(0, bytes));
    this.staging.unmap();
    this.lastTiming = { runMs: t1 - t0, readMs: performance.now() - t1 };
    return logits;
  }

  /** Read the current state tensors back (only valid for the current version). */
  checkLive(tag: LiveTag): void {
    if (tag.owner !== this || tag.version !== this.version) throw staleError();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.staging.destroy();
    await this.release();
  }
}

function staleError(): OrtRwkvError {
  return new OrtRwkvError(
    "bad-state",
    "this state was overwritten by a later graph-captured step (captured states are live views: read() or use " +
      "them before stepping again)",
  );
}
