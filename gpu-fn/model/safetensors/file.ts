/**
 * One safetensors file read with positioned reads: the header is parsed on open and tensors are read on
 * demand, in bounded chunks, so a 10 GB shard never sits in memory.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { DTYPE_BYTES, decodeToF32, FLOAT_DTYPES } from "./dtypes";
import { parseHeader, parseHeaderLength, SafetensorsError, type TensorEntry } from "./header";

/** Default chunk for streaming: 4 Mi elements (16 MB as fp32). */
export const DEFAULT_CHUNK_ELEMENTS = 4 * 1024 * 1024;

export type RawTensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Uint8Array;

export class SafetensorsFile {
  readonly entries: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    entries: Map<string, TensorEntry>,
    metadata: Record<string, string>,
  ) {
    this.fd = fd;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Opens and validates a file; throws SafetensorsError naming the file (and tensor) when malformed. */
  static open(path: string): SafetensorsFile {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const prefix = new Uint8Array(8);
      if (size >= 8) readExactly(fd, prefix, 0, path);
      const n = parseHeaderLength(path, prefix, size);
      const json = new Uint8Array(n);
      readExactly(fd, json, 8, path);
      const header = parseHeader(path, json, size);
      return new SafetensorsFile(path, fd, header.entries, header.metadata);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw new SafetensorsError(this.path, "not in this file", name);
    return e;
  }

  /**
   * Reads elements [start, start+count) of a tensor in C order as fp32 (exact upcast for BF16/F16).
   * Used for whole tensors, chunks and row ranges (e.g. splitting a fused qkv weight).
   */
  readF32Range(name: string, start: number, count: number): Float32Array {
    const e = this.entry(name);
    if (!FLOAT_DTYPES.has(e.dtype)) {
      throw new SafetensorsError(this.path, `dtype ${e.dtype} cannot be read as float32`, name);
    }
    const size = DTYPE_BYTES[e.dtype];
    this.checkRange(e, start, count);
    if (e.dtype === "F32") {
      const out = new Float32Array(count);
      this.readInto(e, new Uint8Array(out.buffer), e.begin + start * size);
      return out;
    }
    const bytes = new Uint8Array(count * size);
    this.readInto(e, bytes, e.begin + start * size);
    return decodeToF32(e.dtype, bytes);
  }

  readF32(name: string): Float32Array {
    return this.readF32Range(name, 0, numel(this.entry(name).shape));
  }

  /** Yields elements [start, start+count) as fp32 chunks of at most `maxChunk` elements. */
  *chunksF32(
    name: string,
    start = 0,
    count?: number,
    maxChunk = DEFAULT_CHUNK_ELEMENTS,
  ): Generator<Float32Array> {
    const total = count ?? numel(this.entry(name).shape) - start;
    for (let done = 0; done < total; done += maxChunk) {
      yield this.readF32Range(name, start + done, Math.min(maxChunk, total - done));
    }
  }

  /** The whole tensor in its stored dtype (for small tensors: golden inputs, ids, masks, images). */
  readRaw(name: string): RawTensorData {
    const e = this.entry(name);
    const bytes = new Uint8Array(e.end - e.begin);
    this.readInto(e, bytes, e.begin);
    const n = numel(e.shape);
    switch (e.dtype) {
      case "F32":
        return new Float32Array(bytes.buffer, 0, n);
      case "F64":
        return new Float64Array(bytes.buffer, 0, n);
      case "F16":
      case "BF16":
        return new Uint16Array(bytes.buffer, 0, n);
      case "I64":
        return new BigInt64Array(bytes.buffer, 0, n);
      case "I32":
        return new Int32Array(bytes.buffer, 0, n);
      case "U8":
      case "BOOL":
        return bytes;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private checkRange(e: TensorEntry, start: number, count: number): void {
    const n = numel(e.shape);
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(count) ||
      start < 0 ||
      count < 0 ||
      start + count > n
    ) {
      throw new SafetensorsError(
        this.path,
        `element range [${start}, ${start + count}) outside 0..${n}`,
        e.name,
      );
    }
  }

  private readInto(e: TensorEntry, dst: Uint8Array, position: number): void {
    if (this.fd === null) throw new SafetensorsError(this.path, "file already closed", e.name);
    let done = 0;
    while (done < dst.byteLength) {
      const got = readSync(this.fd, dst, done, dst.byteLength - done, position + done);
      if (got === 0) {
        throw new SafetensorsError(this.path, `unexpected end of file at byte ${position + done}`, e.name);
      }
      done += got;
    }
  }
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

function readExactly(fd: number, dst: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < dst.byteLength) {
    const got = readSync(fd, dst, done, dst.byteLength - done, position + done);
    if (got === 0) throw new SafetensorsError(path, `unexpected end of file at byte ${position + done}`);
    done += got;
  }
}
