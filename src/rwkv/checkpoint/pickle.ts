/**
 * A pickle reader that NEVER executes anything: a small stack machine over the opcodes (protocols 2-5) that
 * torch.save emits for a state dict (Python's Lib/pickletools.py documents each opcode). It builds plain data:
 * dicts, lists, tuples, strings, numbers, and two torch-specific records, the storage reference of the zip
 * format's persistent ids and the tensor that `torch._utils._rebuild_tensor_v2` would rebuild.
 *
 * GLOBAL / STACK_GLOBAL may only name the callables in ALLOWED_GLOBALS; any other global (os.system,
 * builtins.eval, ...) stops the reader at once with CheckpointError("forbidden-pickle-global", ...) naming it.
 * REDUCE may only apply an allowed global, and only with the argument shapes torch.save writes.
 *
 * Bounds: every read is checked against the end of the stream; the machine does at most one step per byte
 * (no opcode loops), so it always halts; memo indices are map keys (no huge arrays); integers beyond 2^53 and
 * strings running past the end are errors. Memory: every value, container, mark, memo entry and dict item the
 * machine builds is charged an estimate of its heap size (PICKLE_COST, from V8 measurements), and past
 * MAX_PICKLE_HEAP (64 MiB, some 40,000 tensors' worth; the 14B model's state dict needs ~1.5 MB) the reader
 * stops with CheckpointError("over-budget"): a 32 MB stream of EMPTY_DICT opcodes is refused after ~250,000
 * dicts, instead of building 32 million of them (docs/hostile-inputs.md).
 */
import { CheckpointError, quote } from "./errors.js";

/** Storage classes of torch.save: torch.<Name>Storage -> element type (safetensors-style names). */
export const STORAGE_DTYPES: Readonly<Record<string, string>> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
  ComplexFloatStorage: "C64",
  ComplexDoubleStorage: "C128",
};

const REBUILD_TENSOR_V2 = "torch._utils._rebuild_tensor_v2";
const REBUILD_PARAMETER = "torch._utils._rebuild_parameter";
const REBUILD_PARAMETER_WITH_STATE = "torch._utils._rebuild_parameter_with_state";
const ORDERED_DICT = "collections.OrderedDict";

/** Everything a state dict needs; the storage classes are data-only markers. */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  ORDERED_DICT,
  REBUILD_TENSOR_V2,
  REBUILD_PARAMETER,
  REBUILD_PARAMETER_WITH_STATE,
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

/** Max memo entries (a state dict of the 14B model needs a few thousand). */
export const MAX_MEMO = 1_000_000;

/** Default budget for the objects one pickle may build, in estimated heap bytes. */
export const MAX_PICKLE_HEAP = 64 * 1024 * 1024;

/**
 * Estimated V8 heap bytes per thing built (measured with node --expose-gc over 10^6 of each: an empty dict
 * with its Map 227, an empty list 75, a mark's array 43, a string 35 + its characters, a stack slot 8-10),
 * rounded up.
 */
export const PICKLE_COST = {
  slot: 16, // a primitive or a reference pushed on the stack or appended to a list
  stringBase: 32, // plus 2 per character
  bytes: 96, // a Uint8Array view
  dict: 256,
  sequence: 80, // a list or tuple, plus a slot per item
  object: 64, // a global name, a storage or tensor record
  mark: 64,
  memo: 48, // a memo map entry
  item: 48, // a dict entry
} as const;

export interface PickleOptions {
  /** budget in estimated heap bytes (default MAX_PICKLE_HEAP) */
  maxHeap?: number;
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
}
/** An allowed global (a name, never a function) */
export class PyGlobal {
  constructor(readonly name: string) {}
}
/** persistent id ('storage', torch.<T>Storage, key, location, numel) of the zip format */
export class StorageRef {
  constructor(
    readonly dtype: string,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}
/** what _rebuild_tensor_v2(storage, storage_offset, size, stride, ...) describes */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}
export type PyKey = string | number | boolean | null;
export type PyValue = PyKey | Uint8Array | PyTuple | PyList | PyDict | PyGlobal | StorageRef | TensorRef;

const MARK = Symbol("mark");
type StackItem = PyValue | typeof MARK;

function bad(msg: string): CheckpointError {
  return new CheckpointError("bad-pickle", `pickle: ${msg}`);
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

function describe(v: StackItem): string {
  if (v === MARK) return "a mark";
  if (v === null) return "None";
  if (v instanceof PyTuple) return "a tuple";
  if (v instanceof PyList) return "a list";
  if (v instanceof PyDict) return "a dict";
  if (v instanceof PyGlobal) return `global ${v.name}`;
  if (v instanceof StorageRef) return "a storage";
  if (v instanceof TensorRef) return "a tensor";
  if (v instanceof Uint8Array) return "bytes";
  return typeof v;
}

function intTuple(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every((x) => isInt(x) && x >= 0) || v.items.length > 16) {
    throw bad(`${what} is not a tuple of at most 16 non-negative integers`);
  }
  return v.items as number[];
}

/** Apply an allowed global to its argument tuple: the only "calls" this reader ever makes, all pure. */
function reduce(fn: PyGlobal, args: PyValue): PyValue {
  if (!(args instanceof PyTuple)) throw bad(`REDUCE of ${fn.name} with ${describe(args)} instead of a tuple`);
  const a = args.items;
  switch (fn.name) {
    case ORDERED_DICT:
      if (a.length !== 0) throw bad("collections.OrderedDict called with arguments (torch.save writes none)");
      return new PyDict();
    case REBUILD_TENSOR_V2: {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.length < 4 || a.length > 7) throw bad(`${fn.name} with ${a.length} arguments`);
      const [storage, offset, size, stride] = a;
      if (!(storage instanceof StorageRef))
        throw bad(`${fn.name}: first argument is ${describe(storage)}, not a storage`);
      if (!isInt(offset) || offset < 0) throw bad(`${fn.name}: storage offset is not a non-negative integer`);
      const sz = intTuple(size, `${fn.name}: size`);
      const st = intTuple(stride, `${fn.name}: stride`);
      if (sz.length !== st.length)
        throw bad(`${fn.name}: size has ${sz.length} dims but stride has ${st.length}`);
      return new TensorRef(storage, offset, sz, st);
    }
    case REBUILD_PARAMETER:
    case REBUILD_PARAMETER_WITH_STATE:
      // (data, requires_grad, backward_hooks[, state])
      if (a.length < 1 || !(a[0] instanceof TensorRef))
        throw bad(`${fn.name}: first argument is not a tensor`);
      return a[0];
    default:
      // storage classes are only ever persistent-id payloads, never called
      throw bad(`REDUCE applies ${fn.name}, which torch.save never calls`);
  }
}

const OPNAMES: Record<number, string> = {
  0x28: "MARK",
  0x2e: "STOP",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x46: "FLOAT",
  0x49: "INT",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4c: "LONG",
  0x4d: "BININT2",
  0x4e: "NONE",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x52: "REDUCE",
  0x53: "STRING",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x56: "UNICODE",
  0x58: "BINUNICODE",
  0x61: "APPEND",
  0x62: "BUILD",
  0x63: "GLOBAL",
  0x64: "DICT",
  0x7d: "EMPTY_DICT",
  0x65: "APPENDS",
  0x67: "GET",
  0x68: "BINGET",
  0x69: "INST",
  0x6a: "LONG_BINGET",
  0x6c: "LIST",
  0x5d: "EMPTY_LIST",
  0x6f: "OBJ",
  0x70: "PUT",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x73: "SETITEM",
  0x74: "TUPLE",
  0x29: "EMPTY_TUPLE",
  0x75: "SETITEMS",
  0x47: "BINFLOAT",
  0x80: "PROTO",
  0x81: "NEWOBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x8a: "LONG1",
  0x8b: "LONG4",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x95: "FRAME",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/**
 * Run the pickle in `data` and return the object it builds. Throws CheckpointError for anything outside the
 * state-dict subset: "forbidden-pickle-global" for a disallowed global, "bad-pickle" otherwise.
 */
export function loadPickle(data: Uint8Array, opts: PickleOptions = {}): PyValue {
  const budget = opts.maxHeap ?? MAX_PICKLE_HEAP;
  let spent = 0;
  const charge = (n: number): void => {
    spent += n;
    if (spent > budget) {
      throw new CheckpointError(
        "over-budget",
        `pickle: the objects built by offset ${pos} would take more than ${budget} bytes of memory ` +
          `(estimated); a state dict needs far less, so this stream is refused (docs/hostile-inputs.md)`,
      );
    }
  };
  const cost = (v: PyValue): number => {
    if (typeof v === "string") return PICKLE_COST.stringBase + 2 * v.length;
    if (v === null || typeof v !== "object") return PICKLE_COST.slot;
    if (v instanceof PyDict) return PICKLE_COST.dict;
    if (v instanceof PyList || v instanceof PyTuple)
      return PICKLE_COST.sequence + PICKLE_COST.slot * v.items.length;
    if (v instanceof Uint8Array) return PICKLE_COST.bytes;
    return PICKLE_COST.object + (v instanceof TensorRef ? PICKLE_COST.slot * 2 * v.size.length : 0);
  };
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const latin1 = new TextDecoder("latin1");
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: StackItem[] = [];
  const metastack: StackItem[][] = [];
  const memo = new Map<number, PyValue>();
  let stk = stack;
  let pos = 0;

  const need = (n: number, what: string): number => {
    if (n < 0 || pos + n > data.length) {
      throw new CheckpointError(
        "truncated",
        `pickle: ${what} needs ${n} bytes at offset ${pos}, stream has ${data.length}`,
      );
    }
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (what: string): PyValue => {
    if (stk.length === 0) throw bad(`${what}: stack underflow at offset ${pos - 1}`);
    const v = stk.pop() as StackItem;
    if (v === MARK) throw bad(`${what}: found a mark where a value was expected at offset ${pos - 1}`);
    return v;
  };
  const top = (what: string): PyValue => {
    const v = stk[stk.length - 1];
    if (stk.length === 0 || v === MARK) throw bad(`${what}: no value on the stack at offset ${pos - 1}`);
    return v as PyValue;
  };
  const popMark = (what: string): PyValue[] => {
    const items = stk;
    const prev = metastack.pop();
    if (!prev) throw bad(`${what} without a MARK at offset ${pos - 1}`);
    stk = prev;
    return items as PyValue[]; // marks never sit inside a frame: MARK opens a new one
  };
  /** push a value this opcode built: charged its estimated size */
  const push = (v: PyValue): void => {
    charge(cost(v) + (typeof v === "object" && v !== null ? PICKLE_COST.slot : 0));
    stk.push(v);
  };
  /** push another reference to an existing value (DUP, GET): one stack slot */
  const pushRef = (v: PyValue): void => {
    charge(PICKLE_COST.slot);
    stk.push(v);
  };
  const put = (i: number): void => {
    if (!memo.has(i)) {
      if (memo.size >= MAX_MEMO) throw bad(`more than ${MAX_MEMO} memo entries`);
      charge(PICKLE_COST.memo);
    }
    memo.set(i, top("PUT"));
  };
  const get = (i: number): void => {
    const v = memo.get(i);
    if (v === undefined) throw bad(`memo entry ${i} read before it was written`);
    pushRef(v);
  };
  const text = (n: number, what: string): string => {
    const at = need(n, what);
    try {
      return utf8.decode(data.subarray(at, at + n));
    } catch {
      throw bad(`${what} at offset ${at} is not valid UTF-8`);
    }
  };
  const global = (module: string, name: string): void => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) {
      throw new CheckpointError(
        "forbidden-pickle-global",
        `pickle: global ${quote(full)} is not allowed (a state dict only needs ${ORDERED_DICT}, ` +
          `${REBUILD_TENSOR_V2}, ${REBUILD_PARAMETER} and torch.*Storage); the file was not executed`,
      );
    }
    push(new PyGlobal(full));
  };
  const setItems = (dict: PyValue, items: PyValue[], what: string): void => {
    if (!(dict instanceof PyDict)) throw bad(`${what} on ${describe(dict)}, not a dict`);
    if (items.length % 2 !== 0) throw bad(`${what} with an odd number of items`);
    charge(PICKLE_COST.item * (items.length / 2));
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (!(k === null || typeof k === "string" || typeof k === "number" || typeof k === "boolean")) {
        throw bad(`${what}: dict key is ${describe(k)}, not a string or number`);
      }
      dict.map.set(k, items[i + 1]);
    }
  };

  while (true) {
    const at = need(1, "opcode");
    const op = data[at];
    switch (op) {
      case 0x80: // PROTO
        need(1, "PROTO");
        break;
      case 0x95: // FRAME: an 8-byte length hint, nothing to do
        need(8, "FRAME");
        break;
      case 0x2e: {
        // STOP
        if (metastack.length !== 0) throw bad("STOP inside an unclosed MARK");
        return pop("STOP");
      }
      case 0x28: // MARK
        charge(PICKLE_COST.mark);
        metastack.push(stk);
        stk = [];
        break;
      case 0x30: // POP
        if (stk.length > 0) stk.pop();
        else popMark("POP");
        break;
      case 0x31: // POP_MARK
        popMark("POP_MARK");
        break;
      case 0x32: // DUP
        pushRef(top("DUP"));
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(dv.getInt32(need(4, "BININT"), true));
        break;
      case 0x4b: // BININT1
        push(data[need(1, "BININT1")]);
        break;
      case 0x4d: // BININT2
        push(dv.getUint16(need(2, "BININT2"), true));
        break;
      case 0x8a: {
        // LONG1: n little-endian two's-complement bytes
        const n = data[need(1, "LONG1")];
        const p = need(n, "LONG1");
        if (n > 7) throw bad(`LONG1 of ${n} bytes exceeds the integers a state dict uses`);
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + data[p + i];
        if (n > 0 && data[p + n - 1] & 0x80) v -= 2 ** (8 * n);
        if (!Number.isSafeInteger(v)) throw bad("LONG1 integer beyond 2^53");
        push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        push(dv.getFloat64(need(8, "BINFLOAT"), false));
        break;
      case 0x58: // BINUNICODE
        push(text(dv.getUint32(need(4, "BINUNICODE"), true), "BINUNICODE"));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(data[need(1, "SHORT_BINUNICODE")], "SHORT_BINUNICODE"));
        break;
      case 0x8d: {
        // BINUNICODE8
        const p = need(8, "BINUNICODE8");
        const n = dv.getUint32(p + 4, true) * 2 ** 32 + dv.getUint32(p, true);
        push(text(n > data.length ? -1 : n, "BINUNICODE8"));
        break;
      }
      case 0x55: {
        // SHORT_BINSTRING (Python 2 str, protocol <= 2): latin-1
        const n = data[need(1, "SHORT_BINSTRING")];
        const p = need(n, "SHORT_BINSTRING");
        push(latin1.decode(data.subarray(p, p + n)));
        break;
      }
      case 0x54: {
        // BINSTRING
        const n = dv.getInt32(need(4, "BINSTRING"), true);
        const p = need(n, "BINSTRING");
        push(latin1.decode(data.subarray(p, p + n)));
        break;
      }
      case 0x43: {
        // SHORT_BINBYTES
        const n = data[need(1, "SHORT_BINBYTES")];
        const p = need(n, "SHORT_BINBYTES");
        push(data.subarray(p, p + n));
        break;
      }
      case 0x42: {
        // BINBYTES
        const n = dv.getUint32(need(4, "BINBYTES"), true);
        const p = need(n, "BINBYTES");
        push(data.subarray(p, p + n));
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        push(new PyList([]));
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop("TUPLE1")]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop("TUPLE2");
        push(new PyTuple([pop("TUPLE2"), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop("TUPLE3");
        const b = pop("TUPLE3");
        push(new PyTuple([pop("TUPLE3"), b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(new PyTuple(popMark("TUPLE")));
        break;
      case 0x6c: // LIST
        push(new PyList(popMark("LIST")));
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark("DICT"), "DICT");
        push(d);
        break;
      }
      case 0x71: // BINPUT
        put(data[need(1, "BINPUT")]);
        break;
      case 0x72: // LONG_BINPUT
        put(dv.getUint32(need(4, "LONG_BINPUT"), true));
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x68: // BINGET
        get(data[need(1, "BINGET")]);
        break;
      case 0x6a: // LONG_BINGET
        get(dv.getUint32(need(4, "LONG_BINGET"), true));
        break;
      case 0x73: {
        // SETITEM
        const v = pop("SETITEM");
        const k = pop("SETITEM");
        setItems(top("SETITEM"), [k, v], "SETITEM");
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark("SETITEMS");
        setItems(top("SETITEMS"), items, "SETITEMS");
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop("APPEND");
        const l = top("APPEND");
        if (!(l instanceof PyList)) throw bad(`APPEND to ${describe(l)}, not a list`);
        charge(PICKLE_COST.slot);
        l.items.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark("APPENDS");
        const l = top("APPENDS");
        if (!(l instanceof PyList)) throw bad(`APPENDS to ${describe(l)}, not a list`);
        charge(PICKLE_COST.slot * items.length);
        for (const v of items) l.items.push(v);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const line = (): string => {
          const start = pos;
          const end = data.indexOf(0x0a, start);
          if (end < 0 || end - start > 1024)
            throw bad(`GLOBAL at offset ${at}: unterminated or over-long name`);
          pos = end + 1;
          return latin1.decode(data.subarray(start, end));
        };
        const module = line();
        global(module, line());
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop("STACK_GLOBAL");
        const module = pop("STACK_GLOBAL");
        if (typeof module !== "string" || typeof name !== "string") throw bad("STACK_GLOBAL of non-strings");
        global(module, name);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop("REDUCE");
        const fn = pop("REDUCE");
        if (!(fn instanceof PyGlobal)) throw bad(`REDUCE applies ${describe(fn)}, not an allowed global`);
        push(reduce(fn, args));
        break;
      }
      case 0x62: {
        // BUILD: state for a dict subclass (OrderedDict._metadata) or a Parameter: kept out, never applied
        pop("BUILD");
        const obj = top("BUILD");
        if (!(obj instanceof PyDict) && !(obj instanceof TensorRef)) throw bad(`BUILD on ${describe(obj)}`);
        break;
      }
      case 0x51: {
        // BINPERSID: ('storage', torch.<T>Storage, key, location, numel)
        const pid = pop("BINPERSID");
        if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== "storage") {
          throw bad("persistent id is not a ('storage', type, key, location, numel) tuple");
        }
        const [, type, key, location, numel] = pid.items;
        if (
          !(type instanceof PyGlobal) ||
          !type.name.startsWith("torch.") ||
          !type.name.endsWith("Storage")
        ) {
          throw bad(`persistent id names ${describe(type)}, not a torch storage class`);
        }
        if (typeof key !== "string" || typeof location !== "string" || !isInt(numel) || numel < 0) {
          throw bad("persistent id has a bad key, location or element count");
        }
        push(new StorageRef(STORAGE_DTYPES[type.name.slice(6)] ?? type.name, key, location, numel));
        break;
      }
      default: {
        const name = OPNAMES[op];
        throw bad(
          name
            ? `opcode ${name} at offset ${at} is not used by torch.save for a state dict`
            : `unknown opcode 0x${op.toString(16).padStart(2, "0")} at offset ${at}`,
        );
      }
    }
  }
}
