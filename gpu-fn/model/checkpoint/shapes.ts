/** Checks every tensor a builder will read against the shape its config implies, before anything is written. */
import type { MappedWeightSource } from "../safetensors";

const FLOAT = new Set(["F32", "F16", "BF16", "F64"]);
const MAX_LISTED = 20;

/**
 * Throws one error listing every missing tensor, wrong shape or non-float dtype (first 20), each with the
 * expected and actual shape and the file it came from. Extra tensors (e.g. the VAE encoder) are ignored.
 */
export function checkShapes(
  component: string,
  weights: MappedWeightSource,
  expected: Map<string, number[]>,
): void {
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    if (!weights.has(key)) {
      problems.push(`"${key}": missing (expected shape [${shape}])`);
      continue;
    }
    const info = weights.info(key);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      problems.push(`"${key}": shape [${info.shape}] in ${weights.location(key)}, expected [${shape}]`);
    } else if (!FLOAT.has(info.dtype)) {
      problems.push(`"${key}": dtype ${info.dtype} in ${weights.location(key)}, expected a float type`);
    }
  }
  if (problems.length === 0) return;
  const shown = problems.slice(0, MAX_LISTED).map((p) => `  ${p}`);
  if (problems.length > MAX_LISTED) shown.push(`  ... and ${problems.length - MAX_LISTED} more`);
  throw new Error(
    `${component} (${weights.label}): ${problems.length} tensor(s) do not match the config:\n${shown.join("\n")}`,
  );
}
