/**
 * IEEE fp32 -> fp16 with round-to-nearest-even, as torch's `.half()` does. Written by hand: no maintained npm
 * package converts whole typed arrays without per-element allocation (Float16Array is not in Node 20).
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Whole-array conversion on the bit patterns, inlined (no call per element): the hot loop of a cuda-target
 * conversion (10B weights). Same results as `toHalfBits` (checked over every exponent and rounding case in
 * graph-builder.test.ts). Subnormals use F. Giesen's float-add trick: adding 0.5 rounds the magnitude to the
 * fp16 subnormal grid (2^-24) with fp32's round-to-nearest-even.
 */
export function float32ToFloat16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    const sign = (x >>> 16) & 0x8000;
    const abs = x & 0x7fffffff;
    let h: number;
    if (abs >= 0x47800000) {
      h = abs > 0x7f800000 ? 0x7e00 : 0x7c00; // NaN (quiet) / overflow and inf
    } else if (abs < 0x38800000) {
      scratchBits[0] = abs; // below 2^-14: fp16 subnormal or zero
      scratch[0] += 0.5;
      h = scratchBits[0] - 0x3f000000;
    } else {
      // Rebias the exponent, add half an ulp minus one plus the lowest kept bit (ties to even); a carry out of
      // the mantissa bumps the exponent, up to inf for values >= 65520.
      h = (abs + 0xc8000fff + ((abs >>> 13) & 1)) >>> 13;
    }
    out[i] = sign | h;
  }
  return out;
}

export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000; // subnormal: shift in the implicit bit, round to nearest even
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** fp16 bits -> number (for tests and for reading F16 checkpoints). */
export function halfBitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
