/** Compares one actual output tensor with its reference under a tolerance rule. */
import type { GoldenTensor } from "./types";

export type Tolerance =
  /** |a-b| <= atol + rtol*|ref| everywhere; optionally rms(a-b) <= rmsRel * rms(ref). */
  | { kind: "allclose"; atol: number; rtol: number; rmsRel?: number }
  /** Bit-identical values. */
  | { kind: "exact" }
  /** Integer images: |a-b| <= maxDiff everywhere, and at most maxFraction of the values differ at all. */
  | { kind: "uint8"; maxDiff: number; maxFraction: number };

export interface TensorCheck {
  name: string;
  ok: boolean;
  /** Elements compared (fewer than the tensor's size when a validity mask applies). */
  compared: number;
  maxAbs: number;
  /** max |a-b| / max(|ref|, 1e-2 * max|ref|): relative error with near-zero references floored. */
  maxRel: number;
  /** Elements outside the tolerance (for uint8: elements that differ at all). */
  bad: number;
  rule: string;
  /** Why it failed when it is not a value mismatch (shape, dtype, NaN). */
  problem?: string;
}

export function describeTolerance(t: Tolerance): string {
  switch (t.kind) {
    case "exact":
      return "exact";
    case "uint8":
      return `|d|<=${t.maxDiff} on <=${(t.maxFraction * 100).toFixed(1)}%`;
    case "allclose":
      return `atol ${t.atol} rtol ${t.rtol}${t.rmsRel === undefined ? "" : ` rms-rel ${t.rmsRel}`}`;
  }
}

/**
 * `valid` (optional) selects the elements to compare, e.g. the text encoder's non-pad positions; its length
 * must divide the tensor's size (each flag covers a contiguous run of elements).
 */
export function compareTensor(
  name: string,
  actual: GoldenTensor,
  expected: GoldenTensor,
  tol: Tolerance,
  valid?: Uint8Array,
): TensorCheck {
  const rule = describeTolerance(tol);
  const base = { name, rule, compared: 0, maxAbs: Number.NaN, maxRel: Number.NaN, bad: 0 };
  if (actual.dims.join() !== expected.dims.join()) {
    return { ...base, ok: false, problem: `shape [${actual.dims}], expected [${expected.dims}]` };
  }
  if (actual.dtype !== expected.dtype) {
    return { ...base, ok: false, problem: `dtype ${actual.dtype}, expected ${expected.dtype}` };
  }
  const a = toNumbers(actual.data);
  const e = toNumbers(expected.data);
  const run = valid ? e.length / valid.length : 1;
  const use = (i: number) => !valid || valid[Math.floor(i / run)] === 1;
  let refMax = 0;
  for (let i = 0; i < e.length; i++) if (use(i)) refMax = Math.max(refMax, Math.abs(e[i]));
  const floor = Math.max(refMax * 1e-2, Number.MIN_VALUE);
  let compared = 0;
  let maxAbs = 0;
  let maxRel = 0;
  let bad = 0;
  let nan = 0;
  let se = 0;
  let sr = 0;
  for (let i = 0; i < e.length; i++) {
    if (!use(i)) continue;
    compared++;
    const d = Math.abs(a[i] - e[i]);
    if (Number.isNaN(d) && !(Number.isNaN(a[i]) && Number.isNaN(e[i]))) {
      nan++;
      continue;
    }
    if (!(d <= maxAbs)) maxAbs = d;
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(e[i]), floor));
    se += d * d;
    sr += e[i] * e[i];
    const limit = tol.kind === "allclose" ? tol.atol + tol.rtol * Math.abs(e[i]) : 0;
    if (d > limit) bad++;
  }
  const check: TensorCheck = { name, rule, compared, maxAbs, maxRel, bad, ok: false };
  if (nan > 0) return { ...check, problem: `${nan} NaN value(s) where the reference is a number` };
  if (tol.kind === "uint8") {
    check.ok = maxAbs <= tol.maxDiff && bad <= tol.maxFraction * compared;
  } else if (tol.kind === "allclose" && tol.rmsRel !== undefined) {
    const rms = sr > 0 ? Math.sqrt(se / sr) : 0;
    check.ok = bad === 0 && rms <= tol.rmsRel;
    if (rms > tol.rmsRel) check.problem = `rms relative error ${rms.toExponential(2)} > ${tol.rmsRel}`;
  } else {
    check.ok = bad === 0;
  }
  return check;
}

function toNumbers(data: GoldenTensor["data"]): ArrayLike<number> {
  return data instanceof BigInt64Array ? Array.from(data, Number) : data;
}
