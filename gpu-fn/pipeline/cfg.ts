/**
 * Classifier-free guidance as the current diffusers ZImagePipeline applies it (spec §4.5): runs when the guidance
 * scale is > 0, `pred = pos + g·(pos − neg)`, optional truncation (no guidance once t_norm > cfg_truncation) and
 * renormalisation (‖pred‖ capped at cfg_normalization·‖pos‖). float32 throughout.
 * @module
 */
import { fl } from "./noise/float32-math";

export interface CfgOptions {
  guidanceScale: number;
  /** Guidance is switched off at steps whose t_norm = 1 − sigma exceeds this (default 1: never). */
  cfgTruncation?: number;
  /** If > 0, caps ‖pred‖ at cfgNormalization·‖pos‖ (default 0: off). */
  cfgNormalization?: number;
}

/** Whether a job runs the negative prompt at all. */
export function usesCfg(opts: CfgOptions): boolean {
  return opts.guidanceScale > 0;
}

/** The guidance scale in effect at a step with model time `tNorm` (0 means: skip the negative pass). */
export function guidanceAt(opts: CfgOptions, tNorm: number): number {
  if (!usesCfg(opts)) return 0;
  const truncation = opts.cfgTruncation ?? 1;
  if (truncation <= 1 && tNorm > truncation) return 0;
  return opts.guidanceScale;
}

/** pos + g·(pos − neg), then the optional norm cap. Returns a new array. */
export function combineGuidance(
  pos: Float32Array,
  neg: Float32Array,
  guidance: number,
  cfgNormalization = 0,
): Float32Array {
  const g = fl(guidance);
  const pred = new Float32Array(pos.length);
  for (let i = 0; i < pos.length; i++) pred[i] = fl(pos[i] + fl(g * fl(pos[i] - neg[i])));
  if (cfgNormalization > 0) {
    const maxNorm = l2(pos) * cfgNormalization;
    const norm = l2(pred);
    if (norm > maxNorm) {
      const scale = fl(maxNorm / norm);
      for (let i = 0; i < pred.length; i++) pred[i] = fl(pred[i] * scale);
    }
  }
  return pred;
}

function l2(v: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
}
