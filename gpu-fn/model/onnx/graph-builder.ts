/**
 * A small ONNX graph emitter on top of onnx-proto: builders call `op()` node by node (the approach of
 * onnxruntime-genai's model builder) and weights stream into one external-data file as they are added,
 * so a multi-GB model never sits in memory and the protobuf stays far below its 2 GB cap.
 */
import onnxProto from "onnx-proto";
import { ExternalDataWriter } from "./external-data";
import { float32ToFloat16 } from "./float16";

const { onnx } = onnxProto;

export type ElemType = "float32" | "float16" | "bfloat16" | "int64" | "int32" | "uint8" | "bool";

/** TensorProto.DataType numbers (onnx-proto's enum predates BFLOAT16, so numbers are used directly). */
export const ELEM_TYPE: Record<ElemType, number> = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  bfloat16: 16,
};

/** A dimension: a fixed size or a symbolic name (dynamic axis). */
export type Dim = number | string;

/** Forces a FLOAT / FLOATS attribute even for integral values (plain integral numbers encode as INT). */
export class FloatAttr {
  constructor(readonly value: number | number[]) {}
}
export const float = (value: number | number[]): FloatAttr => new FloatAttr(value);

export type AttrValue = number | number[] | string | FloatAttr;

export interface OpOptions {
  /** Node name; builders use checkpoint key names so the graph reads against the spec. */
  name?: string;
  domain?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
}

/** Weights above this size go to the external-data file; smaller ones stay inline. */
const INLINE_LIMIT_BYTES = 1024;

export interface GraphBuilderOptions {
  /** Graph name, e.g. "transformer". */
  name: string;
  /** Absolute path of the external-data file (written next to the .onnx file). */
  dataPath: string;
  /** Default opset for domain "" (23 gives Attention/RMSNormalization/RotaryEmbedding). */
  opset?: number;
}

export class GraphBuilder {
  readonly name: string;
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly constCache = new Map<string, string>();
  private readonly domains = new Map<string, number>();
  private readonly data: ExternalDataWriter;
  private readonly opset: number;
  private paramCount = 0;

  constructor(opts: GraphBuilderOptions) {
    this.name = opts.name;
    this.opset = opts.opset ?? 23;
    this.data = new ExternalDataWriter(opts.dataPath);
  }

  /** Number of weight elements added so far (for the converter's summary). */
  get parameters(): number {
    return this.paramCount;
  }

  /** Bytes written to the external-data file so far. */
  get dataBytes(): number {
    return this.data.bytesWritten;
  }

  /** Declares a graph input and returns its value name. */
  input(name: string, type: ElemType, dims: Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares `value` as graph output `name` (an Identity node renames it when needed). */
  output(value: string, name: string, type: ElemType, dims: Dim[]): void {
    if (value !== name) {
      this.claim(name);
      this.nodes.push({ opType: "Identity", input: [value], output: [name], name: `${name}/Identity` });
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a node with one output and returns the output's value name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): string {
    return this.opN(opType, inputs, attrs, { ...opts, outputs: 1 })[0];
  }

  /** Adds a node with `opts.outputs` outputs and returns their value names. */
  opN(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: OpOptions = {},
  ): string[] {
    const base = this.uniqueName(opts.name ? `${opts.name}/${opType}` : opType);
    const count = opts.outputs ?? 1;
    const outs = Array.from({ length: count }, (_, i) =>
      this.uniqueName(count === 1 ? base : `${base}:${i}`),
    );
    if (opts.domain && !this.domains.has(opts.domain)) this.domains.set(opts.domain, 1);
    this.nodes.push({
      opType,
      domain: opts.domain ?? "",
      name: base,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** A small inline constant (shapes, axes, scalars); identical constants are shared. */
  constant(type: "float32" | "int64", values: number[], dims: number[] = [values.length]): string {
    const key = `${type}|${dims.join(",")}|${values.join(",")}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = this.uniqueName(`const_${type}_${this.constCache.size}`);
    const raw =
      type === "float32"
        ? new Uint8Array(Float32Array.from(values).buffer)
        : new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
    this.initializers.push({ name, dims, dataType: ELEM_TYPE[type], rawData: raw });
    this.constCache.set(key, name);
    return name;
  }

  /** Shorthands for int64 shape/axes constants and fp32 scalars. */
  ints(values: number[]): string {
    return this.constant("int64", values);
  }
  scalar(value: number): string {
    return this.constant("float32", [value], []);
  }

  /**
   * Adds a weight, stored as `storeAs` (fp32 values are rounded to nearest-even when stored as fp16).
   * `name` should be the checkpoint key. `source` may be one array or chunks in C order (for huge tensors).
   */
  async weight(
    name: string,
    dims: number[],
    source: Float32Array | AsyncIterable<Float32Array> | Iterable<Float32Array>,
    storeAs: "float32" | "float16" = "float32",
  ): Promise<string> {
    this.claim(name);
    const expected = dims.reduce((a, b) => a * b, 1);
    const chunks = source instanceof Float32Array ? [source] : source;
    const encode = (c: Float32Array): Uint8Array =>
      storeAs === "float16"
        ? new Uint8Array(float32ToFloat16(c).buffer)
        : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
    const bytesPerElem = storeAs === "float16" ? 2 : 4;
    let seen = 0;
    if (expected * bytesPerElem <= INLINE_LIMIT_BYTES) {
      const parts: Uint8Array[] = [];
      for await (const c of chunks) {
        seen += c.length;
        parts.push(encode(c).slice());
      }
      checkCount(name, seen, expected);
      this.initializers.push({ name, dims, dataType: ELEM_TYPE[storeAs], rawData: concat(parts) });
    } else {
      const offset = this.data.beginTensor();
      for await (const c of chunks) {
        seen += c.length;
        this.data.write(encode(c));
      }
      checkCount(name, seen, expected);
      this.initializers.push({
        name,
        dims,
        dataType: ELEM_TYPE[storeAs],
        dataLocation: 1, // EXTERNAL
        externalData: [
          { key: "location", value: this.data.fileName },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(expected * bytesPerElem) },
        ],
      });
    }
    this.paramCount += expected;
    return name;
  }

  /** Encodes the ModelProto and closes the external-data file. Returns the .onnx bytes. */
  finish(docString = ""): Uint8Array {
    this.data.close();
    const opsetImport = [{ domain: "", version: this.opset }];
    for (const [domain, version] of this.domains) opsetImport.push({ domain, version });
    const model = onnx.ModelProto.create({
      irVersion: 10,
      producerName: "z-image-edge model builder",
      docString,
      opsetImport,
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`graph ${this.name}: duplicate value name "${name}"`);
    this.usedNames.add(name);
  }

  private uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }
}

function checkCount(name: string, seen: number, expected: number): void {
  if (seen !== expected) throw new Error(`weight ${name}: got ${seen} values, shape needs ${expected}`);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (value instanceof FloatAttr) {
    return Array.isArray(value.value)
      ? { name, type: T.FLOATS, floats: value.value }
      : { name, type: T.FLOAT, f: value.value };
  }
  if (typeof value === "string") return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    return value.every(Number.isInteger)
      ? { name, type: T.INTS, ints: value }
      : { name, type: T.FLOATS, floats: value };
  }
  return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
}
