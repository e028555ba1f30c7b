/**
 * safetensors dtypes and exact conversions to fp32. Hand-written: no npm package converts whole typed arrays
 * of BF16/F16 without per-element allocation.
 */
import { endianness } from "node:os";
import type { StorageDType } from "../weights";

export type SafetensorsDType = StorageDType;

export const DTYPE_BYTES: Record<SafetensorsDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
};

export const FLOAT_DTYPES: ReadonlySet<SafetensorsDType> = new Set(["F64", "F32", "F16", "BF16"]);

export function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === "string" && Object.hasOwn(DTYPE_BYTES, value);
}

// Typed-array views over file bytes assume a little-endian host, like the file format.
if (endianness() !== "LE") throw new Error("safetensors: big-endian hosts are not supported");

/** fp16 bits -> fp32, every value exact (fp16 is a subset of fp32); built once, 256 KB. */
let halfTable: Float32Array | null = null;
function f16Table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    halfTable[h] =
      exp === 0
        ? sign * mant * 2 ** -24
        : exp === 0x1f
          ? mant
            ? Number.NaN
            : sign * Number.POSITIVE_INFINITY
          : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return halfTable;
}

/**
 * Decodes little-endian float bytes of `dtype` into fp32. BF16 and F16 upcast exactly; F64 rounds to nearest.
 * `bytes` may start at any offset (it is copied when misaligned).
 */
export function decodeToF32(dtype: SafetensorsDType, bytes: Uint8Array): Float32Array {
  const size = DTYPE_BYTES[dtype];
  const n = bytes.byteLength / size;
  const b = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  switch (dtype) {
    case "F32":
      return new Float32Array(b.buffer, b.byteOffset, n).slice();
    case "BF16": {
      const src = new Uint16Array(b.buffer, b.byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return out;
    }
    case "F16": {
      const src = new Uint16Array(b.buffer, b.byteOffset, n);
      const table = f16Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]];
      return out;
    }
    case "F64":
      return Float32Array.from(new Float64Array(b.buffer, b.byteOffset, n));
    default:
      throw new Error(`dtype ${dtype} is not a float type; cannot read it as fp32`);
  }
}

/** fp32 -> bf16 bits, round to nearest even (as torch's `.to(torch.bfloat16)`); NaN stays NaN. */
export function float32ToBFloat16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) {
      out[i] = (x >>> 16) | 0x40;
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
