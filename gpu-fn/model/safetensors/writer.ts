/**
 * Streaming safetensors writer: the header is computed from the declared tensors up front, then data is
 * appended tensor by tensor in declaration order, chunk by chunk (so multi-GB synthetic checkpoints never
 * sit in memory). Used for golden outputs, the tiny model and synthetic benchmark checkpoints.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { float32ToFloat16 } from "../onnx/float16";
import { DTYPE_BYTES, float32ToBFloat16, type SafetensorsDType } from "./dtypes";
import { numel, type RawTensorData } from "./file";

export interface TensorSpec {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
}

export class SafetensorsWriter {
  private fd: number | null;
  private index = 0;
  private written = 0;
  private readonly sizes: number[];

  constructor(
    readonly path: string,
    private readonly specs: TensorSpec[],
    metadata: Record<string, string> = {},
  ) {
    const header: Record<string, unknown> = {};
    if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
    let offset = 0;
    this.sizes = specs.map((s) => numel(s.shape) * DTYPE_BYTES[s.dtype]);
    specs.forEach((s, i) => {
      if (s.name in header) throw new Error(`${path}: duplicate tensor "${s.name}"`);
      header[s.name] = { dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + this.sizes[i]] };
      offset += this.sizes[i];
    });
    let json = JSON.stringify(header);
    json += " ".repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8); // data starts 8-aligned
    const jsonBytes = Buffer.from(json, "utf8");
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(jsonBytes.length));
    this.fd = openSync(path, "w");
    this.put(prefix);
    this.put(jsonBytes);
    this.skipEmpty();
  }

  /** Appends raw little-endian bytes of the current tensor (the one after all completed ones). */
  write(name: string, bytes: Uint8Array): void {
    const spec = this.specs[this.index];
    if (!spec || spec.name !== name) {
      throw new Error(`${this.path}: wrote "${name}" but the next tensor is "${spec?.name ?? "(none)"}"`);
    }
    if (this.written + bytes.byteLength > this.sizes[this.index]) {
      throw new Error(`${this.path}: tensor "${name}" gets more than its ${this.sizes[this.index]} bytes`);
    }
    this.put(bytes);
    this.written += bytes.byteLength;
    if (this.written === this.sizes[this.index]) {
      this.index++;
      this.written = 0;
      this.skipEmpty();
    }
  }

  /** Appends fp32 values, encoded to the tensor's dtype (F32, or F16/BF16 rounded to nearest even). */
  writeF32(name: string, values: Float32Array): void {
    const dtype = this.specs[this.index]?.dtype;
    this.write(name, encodeF32(values, dtype ?? "F32"));
  }

  /** Closes the file; throws if a declared tensor did not get all its bytes. */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    if (this.index < this.specs.length) {
      throw new Error(`${this.path}: closed before tensor "${this.specs[this.index].name}" was complete`);
    }
  }

  private skipEmpty(): void {
    while (this.index < this.specs.length && this.sizes[this.index] === 0) this.index++;
  }

  private put(bytes: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path}: writer already closed`);
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.fd, bytes, done, bytes.byteLength - done);
  }
}

export function encodeF32(values: Float32Array, dtype: SafetensorsDType): Uint8Array {
  switch (dtype) {
    case "F32":
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case "F16":
      return new Uint8Array(float32ToFloat16(values).buffer);
    case "BF16":
      return new Uint8Array(float32ToBFloat16(values).buffer);
    default:
      throw new Error(`cannot encode float32 values as ${dtype}`);
  }
}

export interface TensorToWrite extends TensorSpec {
  data: RawTensorData;
}

/** Writes small tensors in one go (data already in its stored dtype; F16/BF16 as raw Uint16 bits). */
export function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  metadata: Record<string, string> = {},
): void {
  const w = new SafetensorsWriter(path, tensors, metadata);
  try {
    for (const t of tensors) {
      if (t.data.length !== numel(t.shape)) {
        throw new Error(
          `${path}: tensor "${t.name}" has ${t.data.length} values, shape [${t.shape}] needs ${numel(t.shape)}`,
        );
      }
      if (t.data.byteLength > 0)
        w.write(t.name, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  } finally {
    w.close();
  }
}
