/**
 * Scalar emulation of the float32 `log256_ps` / `sincos256_ps` polynomials (Cephes, via avx_mathfun.h) that
 * torch's AVX2 `normal_fill_16` uses, including the FMA contractions GCC applies in that build.
 * Constants and op order: test/fixtures/golden/tiny-a/README.md §5(f).
 * @module
 */
import { fl, fma32 } from "./float32-math";

// Cephes constants, written with the fewest digits that give the same double.
const SQRTHF = fl(Math.SQRT1_2);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(fl);
const LOG_Q1 = fl(-2.1219444e-4);
const LOG_Q2 = fl(0.693359375);

const FOPI = fl(1.27323954473516);
const DP1 = fl(-0.78515625);
const DP2 = fl(-2.4187564849853516e-4);
const DP3 = fl(-3.774894977445941e-8);
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(fl);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(fl);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Natural log of a positive normal float32, as log256_ps computes it. */
export function log256(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  let e = fl((bits >>> 23) - 127 + 1);
  u32[0] = (bits & ~0x7f800000) | 0x3f000000; // mantissa scaled into [0.5, 1)
  const m = f32[0];
  let x = fl(m - 1);
  if (m < SQRTHF) {
    e = fl(e - 1);
    x = fl(x + m);
  }
  const z = fl(x * x);
  let y = LOG_P[0];
  for (let k = 1; k < LOG_P.length; k++) y = fma32(y, x, LOG_P[k]);
  y = fl(y * x);
  y = fma32(y, z, fl(e * LOG_Q1));
  y = fl(y - fl(z * 0.5));
  x = fl(x + y);
  return fma32(e, LOG_Q2, x);
}

/** [sin θ, cos θ] for θ >= 0 (float32), as sincos256_ps computes them. */
export function sincos256(theta: number): [number, number] {
  let j = Math.trunc(fl(theta * FOPI));
  j = (j + 1) & ~1;
  const jf = fl(j);
  let x = fma32(jf, DP1, theta);
  x = fma32(jf, DP2, x);
  x = fma32(jf, DP3, x);
  const z = fl(x * x);

  let c = fma32(fma32(COS_P[0], z, COS_P[1]), z, COS_P[2]);
  c = fl(c * z);
  c = fma32(c, z, -fl(z * 0.5));
  c = fl(c + 1);

  let s = fma32(fma32(SIN_P[0], z, SIN_P[1]), z, SIN_P[2]);
  s = fl(s * z);
  s = fma32(s, x, x);

  const usePolyDirectly = (j & 2) === 0;
  let sin = usePolyDirectly ? s : c;
  let cos = usePolyDirectly ? c : s;
  if (j & 4) sin = -sin;
  if (((j - 2) & 4) === 0) cos = -cos;
  return [sin, cos];
}
