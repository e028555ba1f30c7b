/**
 * Golden handler for `noise` cases: every output is named `randn_<shape>_seed<s>[_first<n>]` and holds
 * torch.randn(shape) from a CPU generator seeded with s (optionally only its first n values).
 * @module
 */
import { torchRandn } from "../pipeline/noise/torch-randn";
import type { GoldenCaseContext, GoldenTensor } from "./types";

const OUTPUT_NAME = /^randn_([\dx]+)_seed(\d+)(?:_first(\d+))?$/;

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const out: Record<string, GoldenTensor> = {};
  for (const [name, spec] of Object.entries(ctx.case.outputs)) {
    const m = OUTPUT_NAME.exec(name);
    if (!m) throw new Error(`noise case output ${name} does not follow randn_<shape>_seed<s>[_first<n>]`);
    const numel = m[1].split("x").reduce((a, d) => a * Number(d), 1);
    const values = torchRandn(numel, Number(m[2]));
    const data = m[3] ? values.slice(0, Number(m[3])) : values;
    out[name] = { dtype: "F32", dims: spec.shape, data };
  }
  return out;
}
