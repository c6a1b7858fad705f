/**
 * RWKV-4's RNN step on WebGPU as a few fused WGSL kernels (./kernels.ts): weights, state, logits and the sampled
 * tokens stay on the GPU; a step is 4L + 1 dispatches in one compute pass (4 per block, head), and with
 * the GPU-side sampler a whole run of tokens is queued in one submission with no read-back between tokens.
 *
 *   const f = await FusedRwkv.create(device, weights);      // device with the adapter's buffer limits
 *   const logits = await f.step(token);                      // one step, logits read back (V)
 *   await f.steps(promptTokens);                             // RNN mode over a prompt, last logits kept on the GPU
 *   const next = await f.generate(64, { temperature: 0.8, topP: 0.9, seed: 1 });  // 64 sampled tokens
 *   const t = await f.sample({ temperature: 1, topP: 0.9 });  // one draw from the current logits, no step
 *   const s = await f.getState(); f.setState(s); f.reset();  // the recurrent state as src/rwkv/weights.ts's
 *
 * generate(n) samples from the current logits (those of the last step, or setLogits), then runs the step of
 * that token, n times: the same loop as src/live/live-model.ts's generate, with the sampler on the GPU.
 * Calls must not overlap (the model worker serialises them).
 */
import type { RwkvConfig, RwkvState, RwkvWeights } from "../../rwkv/weights.js";
import { P_EMPTY } from "../../rwkv/wkv.js";
import {
  argmaxParts,
  chanMixIn,
  chanMixOut,
  head,
  HEAD_ROWS,
  headParts,
  N_VEC,
  ROWS,
  ROWS_OF,
  type RowsOf,
  sample,
  STATE_FIELDS,
  timeMixIn,
  timeMixOut,
  type Shape,
} from "./kernels.js";
import {
  MAP_READ,
  USAGE,
  type GBindGroup,
  type GBuffer,
  type GCommandBuffer,
  type GComputePass,
  type GComputePipeline,
  type GDevice,
} from "./webgpu.js";

export class FusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FusedError";
  }
}

export interface FusedOptions {
  /** tokens one call may queue (steps' prompt length, generate's n); longer calls are split (default 1024) */
  maxTokens?: number;
  /** output rows per workgroup of each matrix-vector kernel (powers of 2 up to ROWS, the head's up to HEAD_ROWS;
   * default ROWS_OF) */
  rows?: Partial<RowsOf>;
}

export interface SampleOptions {
  /** 0 = greedy */
  temperature: number;
  topP: number;
  /** restart the GPU's mulberry32 stream from this seed (else it continues from the last call) */
  seed?: number;
}

/** Bytes the fused step needs in one storage binding: the largest matrix (head / embedding, or W'_k + W'_r). */
export function fusedLargestBinding(c: RwkvConfig): number {
  const C = c.nEmbd;
  return 4 * Math.max((c.vocabSize + 2) * C, (c.ffnSize + C) * C, 3 * C * C + N_VEC * C);
}

/**
 * Why this shape cannot run fused with these rows per workgroup: the kernels read vectors of C and F as vec4, and a
 * workgroup's rows of [W_k; W_v; W_r] or [W'_k; W'_r] take one token-shift mix, so timeMixIn's rows must divide C
 * and chanMixIn's F.
 */
export function fusedShapeProblem(c: RwkvConfig, rows: RowsOf = ROWS_OF): string | undefined {
  if (c.nEmbd % 4 !== 0 || c.ffnSize % 4 !== 0)
    return `the fused kernels need C and F divisible by 4 (C = ${c.nEmbd}, F = ${c.ffnSize})`;
  if (c.nEmbd % rows.rkvIn !== 0 || c.ffnSize % rows.ffnIn !== 0)
    return `the fused kernels need C divisible by ${rows.rkvIn} and F by ${rows.ffnIn} (C = ${c.nEmbd}, F = ${c.ffnSize})`;
  if (c.nEmbd * 8 > 15 * 1024) return `C = ${c.nEmbd} does not fit a workgroup's memory`;
  return undefined;
}

/** The kernels of the fused step (kernels.ts; embedIn is block 0's timeMixIn, parts serves setLogits). */
export type KernelName = "embedIn" | "rkvIn" | "rkvOut" | "ffnIn" | "ffnOut" | "head" | "sample" | "parts";

interface Layer {
  rkvIn: GBindGroup;
  rkvOut: GBindGroup;
  ffnIn: GBindGroup;
  ffnOut: GBindGroup;
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
/** steps per submission in steps() and generate(): the GPU starts while the rest is being encoded */
const SUBMIT = 8;

export class FusedRwkv {
  readonly config: RwkvConfig;
  /** tokens queued per submission at most */
  readonly maxTokens: number;
  private readonly owned: GBuffer[] = [];
  private logitsOnGpu = false;
  private disposed = false;
  /** step's next command buffer, encoded while the previous one ran */
  private prepared: GCommandBuffer | undefined;
  /** generateReading's staging buffers (logits, then the token) */
  private readonly staging: GBuffer[] = [];

  private constructor(
    private readonly device: GDevice,
    config: RwkvConfig,
    maxTokens: number,
    /** output rows per workgroup of each matrix-vector kernel */
    readonly rows: RowsOf,
    private readonly pipes: Record<KernelName, GComputePipeline>,
    private readonly b: Record<
      | "x"
      | "xln"
      | "rkv"
      | "kk"
      | "rr"
      | "state"
      | "logits"
      | "probs"
      | "parts"
      | "tokens"
      | "ctl"
      | "sampling"
      | "readLogits"
      | "readState"
      | "readTokens",
      GBuffer
    >,
    private readonly groups: { layers: Layer[]; head: GBindGroup; sample: GBindGroup; parts: GBindGroup },
  ) {
    this.config = config;
    this.maxTokens = maxTokens;
  }

  static async create(device: GDevice, weights: RwkvWeights, opts: FusedOptions = {}): Promise<FusedRwkv> {
    const config = weights.config;

    const { nLayer: L, nEmbd: C, ffnSize: F, vocabSize: V } = config;
    const need = fusedLargestBinding(config);
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    if (need > limit)
      throw new FusedError(
        `the largest matrix (${(need / 2 ** 20).toFixed(0)} MiB) exceeds this device's storage binding limit (${(limit / 2 ** 20).toFixed(0)} MiB)`,
      );
    const maxTokens = opts.maxTokens ?? 1024;
    const rows: RowsOf = { ...ROWS_OF, ...opts.rows };
    for (const [k, r] of Object.entries(rows)) {
      const most = k === "head" ? HEAD_ROWS : ROWS;
      if (!(Number.isInteger(Math.log2(r)) && r >= 1 && r <= most))
        throw new FusedError(`rows of ${k} must be a power of 2 from 1 to ${most}, got ${r}`);
    }
    const problem = fusedShapeProblem(config, rows);
    if (problem) throw new FusedError(problem);
    const shape: Shape = { C, F, V, eps: config.layerNormEps };
    const owned: GBuffer[] = [];
    device.pushErrorScope("validation");
    device.pushErrorScope("out-of-memory");

    // a buffer of `bytes` (rounded up to 16), filled with `data` one after the other when given
    const buffer = (bytes: number, usage: number, label: string, data?: ArrayBufferView[]): GBuffer => {
      const size = Math.max(16, Math.ceil(bytes / 16) * 16);
      const buf = device.createBuffer({ size, usage, label, mappedAtCreation: !!data });
      if (data) {
        const view = new Uint8Array(buf.getMappedRange());
        let o = 0;
        for (const d of data) {
          view.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), o);
          o += d.byteLength;
        }
        buf.unmap();
      }
      owned.push(buf);
      return buf;
    };
    const W = USAGE.STORAGE;
    const RW = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
    const f32 = 4;

    // the model, in the layouts the kernels read (nn.Linear's (out, in), rows stacked where one dispatch reads them)
    // the embedding with ln0's weight and bias as two more rows (one binding: a stage has 8 storage bindings)
    const emb = buffer((V + 2) * C * f32, W, "emb", [weights.emb, weights.ln0.weight, weights.ln0.bias]);
    const headW = buffer(V * C * f32, W, "head", [weights.head]);
    const lnOut = buffer(2 * C * f32, W, "ln_out", [weights.lnOut.weight, weights.lnOut.bias]);
    // the running state: per block attX, a, b, p, ffnX
    const b = {
      x: buffer(C * f32, RW, "x"),
      xln: buffer(C * f32, RW, "xln"),
      rkv: buffer(3 * C * f32, RW, "rkv"),
      kk: buffer(F * f32, RW, "kk"),
      rr: buffer(C * f32, RW, "rr"),
      state: buffer(L * 5 * C * f32, RW, "state"),
      logits: buffer(V * f32, RW, "logits"),
      probs: buffer(V * f32, RW, "probs"),
      parts: buffer(headParts(V, rows.head) * 8, RW, "parts"),
      tokens: buffer((maxTokens + 1) * 4, RW, "tokens"),
      ctl: buffer(16, RW, "ctl"),
      sampling: buffer(16, USAGE.UNIFORM | USAGE.COPY_DST, "sampling"),
      readLogits: buffer(V * f32, USAGE.MAP_READ | USAGE.COPY_DST, "read logits"),
      readState: buffer(L * 5 * C * f32, USAGE.MAP_READ | USAGE.COPY_DST, "read state"),
      readTokens: buffer((maxTokens + 1) * 4, USAGE.MAP_READ | USAGE.COPY_DST, "read tokens"),
    };

    // synchronous creation (Dawn for Node does not settle createComputePipelineAsync's promise by itself);
    // a shader that does not compile surfaces in the validation error scope popped below
    const module = (name: string, code: string): GComputePipeline =>
      device.createComputePipeline({
        label: name,
        layout: "auto",
        compute: { module: device.createShaderModule({ code, label: name }), entryPoint: "main" },
      });
    const pipes: FusedRwkv["pipes"] = {
      embedIn: module("embedMixIn", timeMixIn(shape, true, rows.rkvIn)),
      rkvIn: module("timeMixIn", timeMixIn(shape, false, rows.rkvIn)),
      rkvOut: module("timeMixOut", timeMixOut(shape, rows.rkvOut)),
      ffnIn: module("chanMixIn", chanMixIn(shape, rows.ffnIn)),
      ffnOut: module("chanMixOut", chanMixOut(shape, rows.ffnOut)),
      head: module("head", head(shape, rows.head)),
      sample: module("sample", sample(shape, rows.head)),
      parts: module("argmaxParts", argmaxParts(shape, rows.head)),
    };

    type Part = { buffer: GBuffer; offset: number; size: number };
    const group = (p: GComputePipeline, bufs: (GBuffer | Part)[], label: string): GBindGroup =>
      device.createBindGroup({
        label,
        layout: p.getBindGroupLayout(0),
        entries: bufs.map((x, binding) => ({ binding, resource: "offset" in x ? x : { buffer: x } })),
      });
    const layers: Layer[] = weights.blocks.map((blk, l) => {
      const params = buffer(16, USAGE.UNIFORM, `layer ${l}`, [new Uint32Array([l])]);
      const a = blk.att;
      const fm = blk.ffn;
      // [W_k; W_v; W_r] with the block's vectors behind them (timeMixIn reads both through one binding, the
      // other kernels bind the vectors alone: 3 C^2 floats is a multiple of 256 bytes when 8 divides C)
      const wRkv = buffer((3 * C * C + N_VEC * C) * f32, W, `W_kvr + vecs ${l}`, [
        a.Wk,
        a.Wv,
        a.Wr,
        blk.ln1.weight,
        blk.ln1.bias,
        blk.ln2.weight,
        blk.ln2.bias,
        a.muK,
        a.muV,
        a.muR,
        a.w,
        a.u,
        fm.muK,
        fm.muR,
      ]);
      const vecs: Part = { buffer: wRkv, offset: 3 * C * C * f32, size: N_VEC * C * f32 };
      const wO = buffer(C * C * f32, W, `W_o ${l}`, [a.Wo]);
      const wKr = buffer((F + C) * C * f32, W, `W'_kr ${l}`, [fm.Wk, fm.Wr]);
      const wV = buffer(C * F * f32, W, `W'_v ${l}`, [fm.Wv]);
      return {
        // block 0's timeMixIn also embeds tokens[position]
        rkvIn:
          l === 0
            ? group(
                pipes.embedIn,
                [params, wRkv, b.x, b.state, b.rkv, b.xln, emb, b.tokens, b.ctl],
                "embedMixIn",
              )
            : group(pipes.rkvIn, [params, wRkv, b.x, b.state, b.rkv, b.xln], `timeMixIn ${l}`),
        rkvOut: group(pipes.rkvOut, [params, wO, vecs, b.x, b.state, b.rkv, b.xln, b.ctl], `timeMixOut ${l}`),
        ffnIn: group(
          pipes.ffnIn,
          [params, wKr, vecs, b.x, b.state, b.rkv, b.kk, b.rr, b.xln],
          `chanMixIn ${l}`,
        ),
        ffnOut: group(pipes.ffnOut, [params, wV, b.x, b.state, b.kk, b.rr, b.xln], `chanMixOut ${l}`),
      };
    });
    const groups = {
      layers,
      head: group(pipes.head, [headW, lnOut, b.x, b.logits, b.parts], "head"),
      sample: group(pipes.sample, [b.sampling, b.logits, b.probs, b.tokens, b.ctl, b.parts], "sample"),
      parts: group(pipes.parts, [b.logits, b.parts], "argmaxParts"),
    };
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom || invalid) {
      for (const buf of owned) buf.destroy();
      throw new FusedError(`building the fused step failed: ${(oom ?? invalid)!.message}`);
    }
    const f = new FusedRwkv(device, config, maxTokens, rows, pipes, b, groups);
    f.owned.push(...owned);
    f.reset();
    return f;
  }

  /** The empty state (attX = a = b = ffnX = 0, p = -1e38, as src/rwkv/model.ts initialState). */
  reset(): void {
    const { nLayer: L, nEmbd: C } = this.config;
    const s = new Float32Array(L * 5 * C);
    for (let l = 0; l < L; l++) s.fill(P_EMPTY, (l * 5 + 3) * C, (l * 5 + 4) * C);
    this.device.queue.writeBuffer(this.b.state, 0, s);
    this.logitsOnGpu = false;
  }

  setState(state: RwkvState): void {
    const { nLayer: L, nEmbd: C } = this.config;
    if (state.length !== L) throw new FusedError(`the state has ${state.length} layers, the model ${L}`);
    const s = new Float32Array(L * 5 * C);
    state.forEach((ls, l) => STATE_FIELDS.forEach((k, j) => s.set(ls[k], (l * 5 + j) * C)));
    this.device.queue.writeBuffer(this.b.state, 0, s);
    this.logitsOnGpu = false;
  }

  async getState(): Promise<RwkvState> {
    const { nLayer: L, nEmbd: C } = this.config;
    const all = await this.read(this.b.state, this.b.readState, L * 5 * C * 4);
    return Array.from({ length: L }, (_, l) => {
      const at = (j: number) => all.slice((l * 5 + j) * C, (l * 5 + j + 1) * C);
      return { attX: at(0), a: at(1), b: at(2), p: at(3), ffnX: at(4) };
    });
  }

  /** Make `logits` (V) the ones generate samples from next (e.g. the last row of ORT's parallel forward). */
  setLogits(logits: Float32Array): void {
    if (logits.length !== this.config.vocabSize) throw new FusedError("logits must have V entries");
    this.device.queue.writeBuffer(this.b.logits, 0, logits);
    // the sampler's argmax reads the head's per-workgroup maxima: computed here as the head computes them
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    this.dispatch(pass, "parts");
    pass.end();
    this.device.queue.submit([enc.finish()]);
    this.logitsOnGpu = true;
  }

  /** Whether generate has logits to start from (a step ran, or setLogits). */
  get hasLogits(): boolean {
    return this.logitsOnGpu;
  }

  /**
   * One RNN step from the kept state (which advances); the logits read back. The command buffer of a step (embed,
   * blocks, head, copy of the logits) does not depend on the token, which the embed kernel reads from the GPU: the
   * next one is encoded while this one runs, so a token costs the GPU's time plus the read-back, not the encoding.
   */
  async step(token: number): Promise<Float32Array> {
    this.live();
    this.checkTokens([token]);
    const V = this.config.vocabSize;
    this.device.queue.writeBuffer(this.b.tokens, 0, new Uint32Array([token]));
    this.device.queue.writeBuffer(this.b.ctl, 0, new Uint32Array([0]));
    const cb = this.prepared ?? this.encodeReadStep();
    this.prepared = undefined;
    this.device.queue.submit([cb]);
    this.logitsOnGpu = true;
    this.prepared = this.encodeReadStep();
    await this.b.readLogits.mapAsync(MAP_READ, 0, V * 4);
    const out = new Float32Array(this.b.readLogits.getMappedRange(0, V * 4).slice(0));
    this.b.readLogits.unmap();
    return out;
  }

  /**
   * RNN mode over `tokens` from the kept state: every step queued without a read-back (submitted SUBMIT steps at a
   * time, so the GPU works while the rest is encoded), the head only for the last token, whose logits are read
   * back (or with `read: false` only kept on the GPU; then the result is undefined).
   */
  async steps(
    tokens: ArrayLike<number>,
    { read = true }: { read?: boolean } = {},
  ): Promise<Float32Array | undefined> {
    this.live();
    this.checkTokens(tokens);
    if (tokens.length === 0) throw new FusedError("steps needs at least one token");
    const V = this.config.vocabSize;
    for (let s = 0; s < tokens.length; s += this.maxTokens) {
      const part = Array.prototype.slice.call(tokens, s, s + this.maxTokens) as number[];
      const last = s + part.length >= tokens.length;
      this.device.queue.writeBuffer(this.b.tokens, 0, new Uint32Array(part));
      this.device.queue.writeBuffer(this.b.ctl, 0, new Uint32Array([0]));
      for (let i = 0; i < part.length; i += SUBMIT) {
        const enc = this.device.createCommandEncoder();
        const pass = enc.beginComputePass();
        for (let j = i; j < Math.min(part.length, i + SUBMIT); j++)
          this.encodeStep(pass, last && j === part.length - 1);
        pass.end();
        this.device.queue.submit([enc.finish()]);
      }
    }
    this.logitsOnGpu = true;
    return read ? this.read(this.b.logits, this.b.readLogits, V * 4) : undefined;
  }

  /** The logits of the last step (read back). */
  readLogits(): Promise<Float32Array> {
    if (!this.logitsOnGpu) throw new FusedError("no logits yet: run a step first");
    return this.read(this.b.logits, this.b.readLogits, this.config.vocabSize * 4);
  }

  /**
   * One token drawn on the GPU from the current logits (greedy, or temperature + top-p: the sampler of generate),
   * without running its step: the state and the logits stay as they are, so repeated calls draw from the same
   * distribution (with `seed`, or continuing the GPU's random stream).
   */
  async sample(opts: SampleOptions): Promise<number> {
    this.startSampling(opts);
    this.device.queue.writeBuffer(this.b.ctl, 0, new Uint32Array([0]));
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    this.dispatch(pass, "sample");
    pass.end();
    this.device.queue.submit([enc.finish()]);
    const bytes = await this.read(this.b.tokens, this.b.readTokens, 4); // tokens[0], a u32
    return new Uint32Array(bytes.buffer)[0];
  }

  /**
   * n times: sample the next token on the GPU from the current logits, then run its step; submitted SUBMIT tokens
   * at a time with no read-back until the tokens are read at the end (or every maxTokens). Returns the n tokens.
   */
  async generate(n: number, opts: SampleOptions): Promise<number[]> {
    this.startSampling(opts);
    const out: number[] = [];
    while (out.length < n) {
      const k = Math.min(this.maxTokens, n - out.length);
      this.device.queue.writeBuffer(this.b.ctl, 0, new Uint32Array([0]));
      for (let i = 0; i < k; i += SUBMIT) {
        const enc = this.device.createCommandEncoder();
        const pass = enc.beginComputePass();
        for (let j = i; j < Math.min(k, i + SUBMIT); j++) {
          this.dispatch(pass, "sample");
          this.encodeStep(pass, true);
        }
        pass.end();
        if (i + SUBMIT >= k) enc.copyBufferToBuffer(this.b.tokens, 0, this.b.readTokens, 0, k * 4);
        this.device.queue.submit([enc.finish()]);
      }
      await this.b.readTokens.mapAsync(MAP_READ, 0, k * 4);
      out.push(...new Uint32Array(this.b.readTokens.getMappedRange(0, k * 4).slice(0)));
      this.b.readTokens.unmap();
    }
    return out;
  }

  /**
   * generate with every step's logits read back, pipelined: the token is sampled on the GPU (as in generate), so
   * step t + 1 is queued behind step t without waiting for the CPU, while the logits of earlier steps (and their
   * tokens) are copied to staging buffers and mapped. A staging buffer holds `batch` steps (one submission, one
   * mapping: the host's cost of a mapping is paid once for them), and `depth` of them are in flight.
   * `onStep(token, logits, i)` receives the i-th sampled token and the logits of its step, in order; every token's
   * logits reach the CPU, at most depth x batch steps after the GPU ran them. Returns the n tokens.
   */
  async generateReading(
    n: number,
    opts: SampleOptions,
    onStep: (token: number, logits: Float32Array, i: number) => void,
    depth = 4,
    batch = 8,
  ): Promise<number[]> {
    this.startSampling(opts);
    for (const [name, v] of [
      ["depth", depth],
      ["batch", batch],
    ] as const)
      if (!(Number.isInteger(v) && v >= 1))
        throw new RangeError(`${name} must be a positive integer, got ${v}`);
    const V = this.config.vocabSize;
    // a step's slot: its logits, then its token (16-byte aligned)
    const slot = Math.ceil((V * 4 + 4) / 16) * 16;
    const size = slot * batch;
    if (this.staging.some((b) => b.size < size))
      for (const old of this.staging.splice(0)) {
        this.owned.splice(this.owned.indexOf(old), 1);
        old.destroy();
      }
    while (this.staging.length < depth)
      this.staging.push(
        this.track(
          this.device.createBuffer({ size, usage: USAGE.MAP_READ | USAGE.COPY_DST, label: "staging" }),
        ),
      );
    const out: number[] = [];
    const inFlight: { buf: GBuffer; steps: number }[] = [];
    const drain = async (): Promise<void> => {
      const { buf, steps } = inFlight.shift()!;
      await buf.mapAsync(MAP_READ, 0, steps * slot);
      const range = buf.getMappedRange(0, steps * slot);
      const read = Array.from({ length: steps }, (_, k) => ({
        logits: new Float32Array(range.slice(k * slot, k * slot + V * 4)),
        token: new Uint32Array(range.slice(k * slot + V * 4, k * slot + V * 4 + 4))[0],
      }));
      // unmapped before the callbacks: one that throws leaves the buffer usable by the next call
      buf.unmap();
      for (const { logits, token } of read) {
        out.push(token);
        onStep(token, logits, out.length - 1);
      }
    };
    let queued = 0;
    let used = 0;
    while (queued < n) {
      const k = Math.min(this.maxTokens, n - queued);
      this.device.queue.writeBuffer(this.b.ctl, 0, new Uint32Array([0]));
      // batches end where a run of maxTokens ends: the position is reset between runs
      for (let j0 = 0; j0 < k; j0 += batch) {
        if (inFlight.length >= depth) await drain();
        const buf = this.staging[used++ % depth];
        const enc = this.device.createCommandEncoder();
        const steps = Math.min(batch, k - j0);
        for (let j = 0; j < steps; j++) {
          const pass = enc.beginComputePass();
          this.dispatch(pass, "sample");
          this.encodeStep(pass, true);
          pass.end();
          enc.copyBufferToBuffer(this.b.logits, 0, buf, j * slot, V * 4);
          enc.copyBufferToBuffer(this.b.tokens, (j0 + j) * 4, buf, j * slot + V * 4, 4);
        }
        this.device.queue.submit([enc.finish()]);
        inFlight.push({ buf, steps });
      }
      queued += k;
    }
    while (inFlight.length) await drain();
    return out;
  }

  /**
   * Wait until the GPU has done everything queued (for timing): a 4-byte read-back queued after it (Dawn for Node
   * keeps its event loop alive for a mapping, not for onSubmittedWorkDone).
   */
  async finish(): Promise<void> {
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.b.ctl, 0, this.b.readTokens, 0, 4);
    this.device.queue.submit([enc.finish()]);
    await this.b.readTokens.mapAsync(MAP_READ, 0, 4);
    this.b.readTokens.unmap();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const buf of this.owned) buf.destroy();
  }

  private track(buf: GBuffer): GBuffer {
    this.owned.push(buf);
    return buf;
  }

  /** checks before sampling (a live model with logits, valid options), and the options written to the GPU */
  private startSampling(opts: SampleOptions): void {
    this.live();
    if (!this.logitsOnGpu) throw new FusedError("sampling needs logits to start from: run steps() first");
    if (!(opts.temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${opts.temperature}`);
    if (!(opts.topP > 0 && opts.topP <= 1)) throw new RangeError(`top-p must be in (0, 1], got ${opts.topP}`);
    this.device.queue.writeBuffer(this.b.sampling, 0, new Float32Array([opts.temperature, opts.topP, 0, 0]));
    if (opts.seed !== undefined)
      this.device.queue.writeBuffer(this.b.ctl, 4, new Uint32Array([opts.seed >>> 0]));
  }

  private live(): void {
    if (this.disposed) throw new FusedError("this fused model was disposed");
  }

  private checkTokens(tokens: ArrayLike<number>): void {
    const V = this.config.vocabSize;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= V)
        throw new FusedError(`token id ${t} is out of range 0..${V - 1}`);
    }
  }

  /** One step with the head, and the logits copied to their staging buffer (step's command buffer). */
  private encodeReadStep(): GCommandBuffer {
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    this.encodeStep(pass, true);
    pass.end();
    enc.copyBufferToBuffer(this.b.logits, 0, this.b.readLogits, 0, this.config.vocabSize * 4);
    return enc.finish();
  }

  /** The blocks (block 0 embeds the token) and (withHead) the head: one RNN step, 4L (+ 1) dispatches. */
  private encodeStep(pass: GComputePass, withHead: boolean): void {
    for (let l = 0; l < this.config.nLayer; l++) {
      this.dispatch(pass, l === 0 ? "embedIn" : "rkvIn", l);
      this.dispatch(pass, "rkvOut", l);
      this.dispatch(pass, "ffnIn", l);
      this.dispatch(pass, "ffnOut", l);
    }
    if (withHead) this.dispatch(pass, "head");
  }

  /**
   * One dispatch of a kernel (of block `layer` for the block kernels; embedIn is block 0's timeMixIn). Public for
   * the benchmark, which times each kernel alone (src/cli/fused-gpu-bench.ts); dispatching one outside a step
   * leaves the state and logits meaningless until reset() or setState().
   */
  dispatch(pass: GComputePass, kernel: KernelName, layer = 0): void {
    const { nEmbd: C, ffnSize: F, vocabSize: V } = this.config;
    const g = this.groups.layers[layer];
    if (!g) throw new FusedError(`block ${layer} is not in this model's 0..${this.config.nLayer - 1}`);
    if ((kernel === "embedIn" && layer !== 0) || (kernel === "rkvIn" && layer === 0))
      throw new FusedError(
        `block 0's timeMixIn is embedIn, the others' rkvIn (got ${kernel} for block ${layer})`,
      );
    let group: GBindGroup;
    let workgroups: number;
    switch (kernel) {
      case "embedIn":
      case "rkvIn":
        [group, workgroups] = [g.rkvIn, ceilDiv(3 * C, this.rows.rkvIn)];
        break;
      case "rkvOut":
        [group, workgroups] = [g.rkvOut, ceilDiv(C, this.rows.rkvOut)];
        break;
      case "ffnIn":
        [group, workgroups] = [g.ffnIn, ceilDiv(F + C, this.rows.ffnIn)];
        break;
      case "ffnOut":
        [group, workgroups] = [g.ffnOut, ceilDiv(C, this.rows.ffnOut)];
        break;
      case "head":
        [group, workgroups] = [this.groups.head, headParts(V, this.rows.head)];
        break;
      case "sample":
        [group, workgroups] = [this.groups.sample, 1];
        break;
      case "parts":
        [group, workgroups] = [this.groups.parts, ceilDiv(headParts(V, this.rows.head), 64)];
        break;
    }
    pass.setPipeline(this.pipes[kernel]);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups);
  }

  private async read(src: GBuffer, staging: GBuffer, bytes: number): Promise<Float32Array> {
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_READ, 0, bytes);
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    return out;
  }
}
