/**
 * A small helper to write ONNX graphs as code: each call adds one node and returns its output name.
 * Only standard ONNX operators (default domain, opset 17).
 */
import { f32ToF16Bits } from "./half.js";
import {
  AttributeType,
  DataType,
  encodeModel,
  valueInfo,
  type AttributeProtoObj,
  type DataTypeId,
  type Dim,
  type NodeProtoObj,
  type TensorProtoObj,
  type ValueInfoProtoObj,
} from "./proto.js";

export const OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

function attribute(name: string, v: AttrValue): AttributeProtoObj {
  if (typeof v === "string") return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: integer expected, use {float: x}`);
    return { name, type: AttributeType.INT, i: v };
  }
  if ("float" in v) return { name, type: AttributeType.FLOAT, f: v.float };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}

function checkSize(prefix: string, dims: readonly number[], data: Float32Array): void {
  let n = 1;
  for (const d of dims) n *= d;
  if (data.length !== n)
    throw new Error(`initializer ${prefix}: [${dims}] needs ${n} values, got ${data.length}`);
}

function bytesOf(data: Float32Array | BigInt64Array | Int32Array | Uint8Array): Uint8Array {
  // ONNX raw_data is little-endian, as are all the platforms this runs on (checked below once).
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("onnx builder: big-endian platforms are not supported (ONNX raw_data is little-endian)");
}

export class GraphBuilder {
  readonly nodes: NodeProtoObj[] = [];
  readonly initializers: TensorProtoObj[] = [];
  readonly inputs: ValueInfoProtoObj[] = [];
  readonly outputs: ValueInfoProtoObj[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  private readonly constCache = new Map<string, string>();

  /** A fresh unique name with a readable prefix. */
  name(prefix: string): string {
    let n = prefix;
    while (this.used.has(n)) n = `${prefix}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  input(name: string, elemType: DataTypeId, dims: readonly Dim[], doc?: string): string {
    if (this.used.has(name)) throw new Error(`graph input ${name} defined twice`);
    this.used.add(name);
    this.inputs.push(valueInfo(name, elemType, dims, doc));
    return name;
  }

  /** Declare `value` as a graph output named `name` (an Identity node renames it when needed). */
  output(name: string, value: string, elemType: DataTypeId, dims: readonly Dim[], doc?: string): void {
    if (value !== name) {
      if (this.used.has(name)) throw new Error(`graph output ${name} already used`);
      this.used.add(name);
      this.nodes.push({ name: `out_${name}`, opType: "Identity", input: [value], output: [name] });
    }
    this.outputs.push(valueInfo(name, elemType, dims, doc));
  }

  /** A float32 initializer (weights are referenced, not copied, until encoding). */
  floatInit(prefix: string, dims: readonly number[], data: Float32Array): string {
    checkSize(prefix, dims, data);
    const name = this.name(prefix);
    this.initializers.push({ name, dims: [...dims], dataType: DataType.FLOAT, rawData: bytesOf(data) });
    return name;
  }

  /** An fp16 initializer from fp32 values (rounded to nearest, ties to even: ./half.ts). */
  halfInit(prefix: string, dims: readonly number[], data: Float32Array): string {
    checkSize(prefix, dims, data);
    const name = this.name(prefix);
    const bits = f32ToF16Bits(data);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: DataType.FLOAT16,
      rawData: new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength),
    });
    return name;
  }

  int64Init(prefix: string, dims: readonly number[], values: readonly number[]): string {
    const name = this.name(prefix);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: DataType.INT64,
      rawData: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))),
    });
    return name;
  }

  /** A cached scalar-or-vector float constant (shape [] for one value, [n] otherwise). */
  constF(values: number | readonly number[], dims?: readonly number[]): string {
    const arr = typeof values === "number" ? [values] : [...values];
    const shape = dims ?? (typeof values === "number" ? [] : [arr.length]);
    const key = `f:${shape.join("x")}:${arr.join(",")}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.floatInit("const_f", shape, Float32Array.from(arr));
    this.constCache.set(key, name);
    return name;
  }

  /** A cached int64 constant (shape [n], or [] for a scalar when `scalar` is set). */
  constI(values: number | readonly number[], scalar = false): string {
    const arr = typeof values === "number" ? [values] : [...values];
    const shape = scalar ? [] : [arr.length];
    const key = `i:${shape.join("x")}:${arr.join(",")}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.int64Init("const_i", shape, arr);
    this.constCache.set(key, name);
    return name;
  }

  /** Add a node with one output; returns the output name. */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttrValue> = {},
    outName?: string,
  ): string {
    return this.opN(opType, inputs, 1, attrs, outName ? [outName] : undefined)[0];
  }

  /** Add a node with `nOut` outputs. Empty strings in `inputs` stand for omitted optional inputs. */
  opN(
    opType: string,
    inputs: readonly string[],
    nOut: number,
    attrs: Record<string, AttrValue> = {},
    outNames?: readonly string[],
  ): string[] {
    const base = this.name(`${opType}`);
    const outputs = outNames
      ? outNames.map((n) => {
          if (this.used.has(n)) throw new Error(`value ${n} defined twice`);
          this.used.add(n);
          return n;
        })
      : Array.from({ length: nOut }, (_, i) => this.name(`${base}_o${i}`));
    this.nodes.push({
      name: base,
      opType,
      input: [...inputs],
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** Serialize into ModelProto bytes. */
  encode(graphName: string, doc: string, metadata: Record<string, string> = {}): Uint8Array {
    return encodeModel({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: OPSET }],
      producerName: "rwkv-explained-live",
      producerVersion: "0.1.0",
      docString: doc,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
  }
}
