/**
 * Single-precision arithmetic for JavaScript numbers that hold float32 values.
 * `Math.fround(a op b)` is already correctly rounded for + - * / and sqrt (double has > 2·24+2 bits);
 * only a fused multiply-add needs care, because rounding a*b+c to double first can land on a float32 tie.
 * @module
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export const fl = Math.fround;

/** The float32 neighbour of `x` (a float32 value) in the direction of `toward`. */
function nextFloat32(x: number, toward: number): number {
  if (x === toward) return x;
  if (x === 0) {
    u32[0] = 1;
    return toward > 0 ? f32[0] : -f32[0];
  }
  f32[0] = x;
  const awayFromZero = toward > x === x > 0;
  u32[0] += awayFromZero ? 1 : -1;
  return f32[0];
}

/** fmaf(a, b, c): a*b+c rounded once to float32 (inputs must be float32 values). */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact: two 24-bit significands fit in 53 bits
  const s = p + c;
  // TwoSum: s + err is exactly p + c.
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  const r = fl(s);
  if (err === 0 || r === s) return r;
  const other = nextFloat32(r, s);
  // Double rounding only errs when s sits exactly halfway between two float32 values.
  if (s - r !== other - s) return r;
  return err > 0 === other > r ? other : r;
}
