/** Parses and validates a safetensors header against the file size, with errors naming the file and tensor. */
import { DTYPE_BYTES, isDType, type SafetensorsDType } from "./dtypes";

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte offsets in the file, [begin, end). */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** Bytes before the data section: 8 + header length. */
  dataStart: number;
  entries: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** Headers above this are rejected as corrupt (the real 6B checkpoints have headers of ~100 KB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor === undefined ? "" : `tensor "${tensor}": `}${message}`);
    this.name = "SafetensorsError";
  }
}

/** Validates the 8-byte length prefix; returns the header's byte length. */
export function parseHeaderLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8) {
    throw new SafetensorsError(file, `truncated: ${fileSize} bytes, a safetensors file needs at least 8`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n === 0n || n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `bad header length ${n} (not a safetensors file?)`);
  }
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      file,
      `truncated: header length ${n} but only ${fileSize - 8} bytes follow the length prefix`,
    );
  }
  return Number(n);
}

/** Parses the JSON header and checks every entry against the data section size. */
export function parseHeader(file: string, json: Uint8Array, fileSize: number): ParsedHeader {
  const dataStart = 8 + json.byteLength;
  const dataSize = fileSize - dataStart;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (err) {
    throw new SafetensorsError(file, `header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(file, "header JSON is not an object");
  }
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(file, value);
      continue;
    }
    entries.set(name, parseEntry(file, name, value, dataStart, dataSize));
  }
  checkLayout(file, [...entries.values()], dataStart, dataSize);
  return { dataStart, entries, metadata };
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SafetensorsError(file, "__metadata__ is not an object");
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw new SafetensorsError(file, `__metadata__.${k} is not a string`);
  }
  return value as Record<string, string>;
}

function parseEntry(
  file: string,
  name: string,
  value: unknown,
  dataStart: number,
  dataSize: number,
): TensorEntry {
  const fail = (msg: string): never => {
    throw new SafetensorsError(file, msg, name);
  };
  if (typeof value !== "object" || value === null) return fail("header entry is not an object");
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isDType(dtype)) return fail(`unsupported dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return fail(`bad shape ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    return fail(`bad data_offsets ${JSON.stringify(offsets)}`);
  }
  const [b, e] = offsets as [number, number];
  const need = shape.reduce((a: number, d: number) => a * d, 1) * DTYPE_BYTES[dtype];
  if (e - b !== need) {
    fail(`data_offsets [${b}, ${e}] span ${e - b} bytes but shape [${shape}] of ${dtype} needs ${need}`);
  }
  if (e > dataSize) {
    fail(
      `data_offsets [${b}, ${e}] end past the data section (${dataSize} bytes): the file is truncated or the header is wrong`,
    );
  }
  return { name, dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e };
}

/** Tensors must tile the data section without overlaps or holes (as the reference Rust reader demands). */
function checkLayout(file: string, entries: TensorEntry[], dataStart: number, dataSize: number): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  let pos = dataStart;
  let prev: TensorEntry | null = null;
  for (const e of sorted) {
    if (e.begin < pos && prev) {
      throw new SafetensorsError(
        file,
        `data overlaps tensor "${prev.name}" (bytes [${e.begin - dataStart}, ${e.end - dataStart}) vs [${prev.begin - dataStart}, ${prev.end - dataStart}))`,
        e.name,
      );
    }
    if (e.begin > pos) {
      throw new SafetensorsError(
        file,
        `hole of ${e.begin - pos} bytes before this tensor's data (offset ${e.begin - dataStart})`,
        e.name,
      );
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataStart + dataSize) {
    throw new SafetensorsError(
      file,
      `${dataStart + dataSize - pos} trailing bytes after the last tensor (data section ${dataSize} bytes, tensors cover ${pos - dataStart})`,
    );
  }
}
