/**
 * Golden handler for `scheduler` cases: `sigmas_N`, `timesteps_N`, `model_t_N` for the current pipeline and
 * `orig_nov2025_{sigmas,timesteps}_N` for the original Nov-2025 one, with the model folder's scheduler config.
 * @module
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  buildOriginalNov2025Schedule,
  buildSchedule,
  type Schedule,
  type SchedulerConfig,
} from "../pipeline/scheduler";
import type { GoldenCaseContext, GoldenTensor } from "./types";

const OUTPUT_NAME = /^(orig_nov2025_)?(sigmas|timesteps|model_t)_(\d+)$/;
const FIELD = { sigmas: "sigmas", timesteps: "timesteps", model_t: "modelT" } as const;

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const manifest = JSON.parse(await readFile(path.join(ctx.modelDir, "model.json"), "utf8")) as {
    scheduler: SchedulerConfig;
  };
  const out: Record<string, GoldenTensor> = {};
  for (const [name, spec] of Object.entries(ctx.case.outputs)) {
    const m = OUTPUT_NAME.exec(name);
    if (!m) throw new Error(`scheduler case output ${name} is not <sigmas|timesteps|model_t>_<N>`);
    const steps = Number(m[3]);
    const schedule: Schedule = m[1]
      ? buildOriginalNov2025Schedule(steps, manifest.scheduler)
      : buildSchedule(steps, manifest.scheduler);
    out[name] = { dtype: "F32", dims: spec.shape, data: schedule[FIELD[m[2] as keyof typeof FIELD]] };
  }
  return out;
}
