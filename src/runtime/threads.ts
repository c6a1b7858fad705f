/**
 * The one thread-count policy for onnxruntime-web's WebAssembly EP, used by the pages (through ./client.ts, which
 * passes the decision to the model worker), by the worker itself when no page decided, and by the CLI
 * (`--threads N`). Beside ./ep-policy.ts, which picks the execution provider.
 *
 * WebAssembly threads need SharedArrayBuffer, which a browser only gives a cross-origin-isolated page (COOP
 * same-origin + COEP; ./isolation.ts makes the site isolated wherever it is served). The rules:
 *
 *  1. not isolated: 1 thread, with the reason (ORT itself would fall back to 1 with a console warning);
 *  2. `?threads=N` in the page's address (or the CLI's `--threads N`) wins, and the badge says so;
 *  3. else the caller's request;
 *  4. else 1 for a small model (fewer than MIN_STEP_NUMBERS_FOR_THREADS numbers in the matrices one RNN step
 *     reads): its matrix products take microseconds, less than handing work to other threads costs
 *     (docs/benchmarks.md: the tiny model's RNN mode at 2 threads ran at half the speed of 1);
 *  5. else half the logical processors (`navigator.hardwareConcurrency`), rounded down, 1 to MAX_DEFAULT_THREADS = 8.
 *     Measured (docs/benchmarks.md, 169M generation on ORT wasm): on a 16-core host 8 threads take 16.1 ms a token
 *     and 16 threads 15.4 ms (the step is bound by reading the weights, and SMT siblings share a core's load path);
 *     on a busy 2-core machine 2 threads took twice as long as 1. The page's own thread keeps the rest.
 *
 * API:
 *   parseThreads(value) -> number | undefined            a positive integer <= MAX_THREADS, else undefined
 *   threadsFromUrl(search?) -> number | undefined         the `?threads=` of the page's address
 *   defaultThreads(hardwareConcurrency) -> number         rule 5
 *   stepMatrixNumbers(config) -> number                  numbers in the matrices one RNN step reads (rule 4)
 *   decideThreads({isolated, hardwareConcurrency, fromUrl?, requested?, stepNumbers?}) -> ThreadChoice
 *                                                         pure: the rules above
 *   chooseThreads({requested?, stepNumbers?}) -> ThreadChoice   the same from globalThis (page or worker)
 *   threadsLabel(n) -> "1 thread" | "4 threads"
 */

/** No more than this many by default (see rule 5). */
export const MAX_DEFAULT_THREADS = 8;
/** Below this many matrix numbers per step, one thread (rule 4). */
export const MIN_STEP_NUMBERS_FOR_THREADS = 8_000_000;
/** An upper bound for `?threads=` / `--threads` (ORT starts N - 1 workers up front). */
export const MAX_THREADS = 64;

export interface ThreadChoice {
  /** threads to give ORT (env.wasm.numThreads) */
  threads: number;
  /** why this number (shown in the badge's tooltip) */
  reason: string;
}

export const NOT_ISOLATED_REASON =
  "1 thread: the page is not cross-origin isolated, so WebAssembly has no shared memory";

export function parseThreads(value: string | number | null | undefined): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= MAX_THREADS ? n : undefined;
}

export function threadsFromUrl(search: string | undefined = globalThis.location?.search): number | undefined {
  return parseThreads(new URLSearchParams(search ?? "").get("threads"));
}

export function defaultThreads(hardwareConcurrency: number): number {
  const hc = Number.isInteger(hardwareConcurrency) && hardwareConcurrency > 0 ? hardwareConcurrency : 1;
  return Math.min(MAX_DEFAULT_THREADS, Math.max(1, Math.floor(hc / 2)));
}

/**
 * Numbers in the matrices one RNN step reads (Section 3: per layer W_r, W_k, W_v, W_o of time mixing, W_r of
 * channel mixing (C x C each), W_k and W_v of channel mixing (C x F each); the head V x C). Works for the GPT
 * baseline's shape as well (its attention and MLP matrices are the same sizes).
 */
export function stepMatrixNumbers(config: {
  nLayer: number;
  nEmbd: number;
  vocabSize: number;
  ffnSize?: number;
}): number {
  const { nLayer: L, nEmbd: C, vocabSize: V } = config;
  const F = config.ffnSize ?? 4 * C;
  return L * (5 * C * C + 2 * C * F) + C * V;
}

export function decideThreads({
  isolated,
  hardwareConcurrency,
  fromUrl,
  requested,
  stepNumbers,
}: {
  isolated: boolean;
  hardwareConcurrency: number;
  fromUrl?: number;
  requested?: number;
  /** stepMatrixNumbers of the model, when known (rule 4) */
  stepNumbers?: number;
}): ThreadChoice {
  if (!isolated) return { threads: 1, reason: NOT_ISOLATED_REASON };
  if (fromUrl) return { threads: fromUrl, reason: `${threadsLabel(fromUrl)}: ?threads= in the address` };
  if (requested) return { threads: requested, reason: `${threadsLabel(requested)}: asked for by the page` };
  if (stepNumbers !== undefined && stepNumbers < MIN_STEP_NUMBERS_FOR_THREADS)
    return {
      threads: 1,
      reason: `1 thread: a model this small (${(stepNumbers / 1e6).toFixed(1)}M numbers a step) runs faster on one`,
    };
  const n = defaultThreads(hardwareConcurrency);
  return {
    threads: n,
    reason: `${threadsLabel(n)}: half of this machine's ${hardwareConcurrency} logical processors, at most ${MAX_DEFAULT_THREADS}`,
  };
}

/** The policy from what this global scope (a page or a worker) says about itself. */
export function chooseThreads({
  requested,
  stepNumbers,
}: { requested?: number; stepNumbers?: number } = {}): ThreadChoice {
  const g = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } };
  return decideThreads({
    isolated: !!g.crossOriginIsolated && typeof SharedArrayBuffer !== "undefined",
    hardwareConcurrency: g.navigator?.hardwareConcurrency ?? 1,
    fromUrl: threadsFromUrl(),
    requested,
    stepNumbers,
  });
}

export function threadsLabel(n: number): string {
  return n === 1 ? "1 thread" : `${n} threads`;
}
