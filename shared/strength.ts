/**
 * Image-to-image strength -> the scheduler step it starts at, exactly as diffusers' get_timesteps (golden README
 * §9.3): `t_start = int(max(N − min(N·strength, N), 0))` in float64, truncated toward zero. Shared so the edge
 * validates and bills the steps that will actually run (N − t_start) with the GPU's own arithmetic.
 * @module
 */

/** fal's default for Z-Image-Turbo image-to-image, and ours. */
export const DEFAULT_STRENGTH = 0.6;

/** The first of the N scheduler steps that runs. Throws a RangeError when no step would run. */
export function startStep(steps: number, strength: number): number {
  if (!(strength > 0 && strength <= 1)) throw new RangeError(`strength must be in (0, 1], got ${strength}`);
  const initTimestep = Math.min(steps * strength, steps);
  const tStart = Math.trunc(Math.max(steps - initTimestep, 0));
  if (steps - tStart < 1)
    throw new RangeError(`strength ${strength} with ${steps} steps runs no denoising step`);
  return tStart;
}

/**
 * Transformer steps an image-to-image request runs (what is billed); text-to-image runs all N. 0 when the
 * strength is so small that t_start rounds up to N (e.g. 5e-324), where startStep throws.
 */
export function stepsRun(steps: number, strength: number | undefined): number {
  if (strength === undefined) return steps;
  const tStart = Math.trunc(Math.max(steps - Math.min(steps * strength, steps), 0));
  return strength > 0 && strength <= 1 ? steps - tStart : 0;
}
