/**
 * The subset of ONNX's protobuf schema (onnx/onnx.proto3, IR version 8) that our graphs use, encoded and
 * decoded with protobufjs (a maintained protobuf library; no hand-rolled wire format).
 *
 * Field numbers are those of the official onnx.proto (checked against the copy that onnxruntime-web ships in
 * lib/onnxjs/ort-schema/protobuf/onnx.js). Unknown fields are simply absent: the encoded bytes are a valid
 * ModelProto that any ONNX reader accepts.
 */
import protobuf from "protobufjs";

const SCHEMA = `
syntax = "proto3";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8;
  }
  string name = 1;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
  string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
}

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  enum DataType {
    UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7;
    STRING = 8; BOOL = 9; FLOAT16 = 10; DOUBLE = 11;
  }
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4;
  repeated int32 int32_data = 5;
  repeated int64 int64_data = 7;
  string name = 8;
  bytes raw_data = 9;
  string doc_string = 12;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}
`;

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/* Plain-object shapes of the messages (protobufjs's JSON-ish field names are camelCase). */
export interface TensorProtoObj {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int64Data?: number[];
}
export interface AttributeProtoObj {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProtoObj;
  floats?: number[];
  ints?: number[];
}
export interface NodeProtoObj {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute?: AttributeProtoObj[];
  domain?: string;
}
/** A dimension is a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;
export interface ValueInfoProtoObj {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } };
  docString?: string;
}
export interface GraphProtoObj {
  name: string;
  node: NodeProtoObj[];
  initializer: TensorProtoObj[];
  input: ValueInfoProtoObj[];
  output: ValueInfoProtoObj[];
  docString?: string;
}
export interface ModelProtoObj {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: GraphProtoObj;
  metadataProps?: { key: string; value: string }[];
}

let root: protobuf.Root | undefined;
function modelType(): protobuf.Type {
  root ??= protobuf.parse(SCHEMA, { keepCase: false }).root;
  return root.lookupType("onnx.ModelProto");
}

/** Encode a ModelProto. Bytes fields (raw_data) are copied once into the output buffer. */
export function encodeModel(model: ModelProtoObj): Uint8Array {
  const t = modelType();
  return t.encode(t.fromObject(model)).finish();
}

/** Decode a ModelProto (used by tests and tools; int64 fields come back as numbers). */
export function decodeModel(bytes: Uint8Array): ModelProtoObj {
  const t = modelType();
  return t.toObject(t.decode(bytes), { longs: Number, defaults: false, arrays: true }) as ModelProtoObj;
}

export function valueInfo(
  name: string,
  elemType: number,
  dims: readonly Dim[],
  doc?: string,
): ValueInfoProtoObj {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
    ...(doc ? { docString: doc } : {}),
  };
}
