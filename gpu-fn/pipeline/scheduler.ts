/**
 * Flow-matching Euler schedule of Z-Image-Turbo (diffusers ZImagePipeline + FlowMatchEulerDiscreteScheduler,
 * static shift): sigmas, scheduler timesteps and the model time t = 1 - sigma, all float32, bit-exact with the
 * golden tables for N = 1..50 (spec §4.4, golden README §5(d)).
 * @module
 */
import { fl, fma32 } from "./noise/float32-math";

export interface SchedulerConfig {
  num_train_timesteps: number;
  shift: number;
  use_dynamic_shifting: boolean;
}

export interface Schedule {
  /** N+1 values, the last one 0. */
  sigmas: Float32Array;
  /** N values, sigmas[i]·num_train_timesteps. */
  timesteps: Float32Array;
  /** N values, what the transformer receives: (num_train_timesteps − timesteps[i]) / num_train_timesteps. */
  modelT: Float32Array;
}

/**
 * `torch.linspace(start, end, steps)` in float32 as torch 1.13's CPU kernel computes it: fma from the nearer end,
 * and every full group of 16 built as two 8-wide vectors `base + k·step` (RangeFactoriesKernel.cpp + Vectorized::arange).
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = fl(start);
    return out;
  }
  const s = fl(start);
  const e = fl(end);
  const step = fl(fl(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const at = (i: number) => (i < halfway ? fma32(step, i, s) : fma32(-step, steps - 1 - i, e));
  let i = 0;
  for (; i + 16 <= steps; i += 16) {
    for (const v of [i, i + 8]) {
      const base = at(v);
      out[v] = base;
      for (let k = 1; k < 8; k++) out[v + k] = fl(base + fl(k * step));
    }
  }
  for (; i < steps; i++) out[i] = at(i);
  return out;
}

function assertStaticShift(cfg: SchedulerConfig): void {
  if (cfg.use_dynamic_shifting)
    throw new Error("dynamic shifting is not supported (Z-Image-Turbo uses a static shift)");
}

/** Sigmas for `steps` inference steps, as the current diffusers ZImagePipeline builds them. */
export function buildSchedule(steps: number, cfg: SchedulerConfig): Schedule {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`steps must be a positive integer: ${steps}`);
  assertStaticShift(cfg);
  const base = torchLinspaceF32(1, 1 / steps, steps);
  const shift = fl(cfg.shift);
  const sigmas = new Float32Array(steps + 1);
  for (let i = 0; i < steps; i++) {
    const s = base[i];
    sigmas[i] = fl(fl(shift * s) / fl(1 + fl(fl(shift - 1) * s)));
  }
  return withTimesteps(sigmas, cfg.num_train_timesteps);
}

/**
 * The original (Nov 2025) diffusers pipeline's schedule: `sigma_min = 0`, `set_timesteps(N)` in float64, then cast.
 * Its last step has sigma 0 and dt 0. Kept for the golden comparison only.
 */
export function buildOriginalNov2025Schedule(steps: number, cfg: SchedulerConfig): Schedule {
  assertStaticShift(cfg);
  const n = cfg.num_train_timesteps;
  const sigmas = new Float32Array(steps + 1);
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? n : n + ((0 - n) * i) / (steps - 1); // np.linspace(n, 0, steps)
    const s = t / n;
    sigmas[i] = fl((cfg.shift * s) / (1 + (cfg.shift - 1) * s));
  }
  return withTimesteps(sigmas, n);
}

function withTimesteps(sigmas: Float32Array, numTrainTimesteps: number): Schedule {
  const steps = sigmas.length - 1;
  const n = fl(numTrainTimesteps);
  const timesteps = new Float32Array(steps);
  const modelT = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    timesteps[i] = fl(sigmas[i] * n);
    modelT[i] = fl(fl(n - timesteps[i]) / n);
  }
  return { sigmas, timesteps, modelT };
}
