/** Pipeline-level configs of a diffusers folder: model_index.json and the scheduler config (spec §1.1, §1.3). */
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";

const componentRef = z.tuple([z.string().nullable(), z.string().nullable()]);

export const modelIndexSchema = z.looseObject({
  _class_name: z.string(),
  transformer: componentRef,
  text_encoder: componentRef,
  vae: componentRef,
  scheduler: componentRef,
  tokenizer: componentRef.optional(),
});
export type ModelIndex = z.infer<typeof modelIndexSchema>;

export const schedulerConfigSchema = z.looseObject({
  _class_name: z.literal("FlowMatchEulerDiscreteScheduler").optional(),
  num_train_timesteps: z.number().int().positive().default(1000),
  shift: z.number().positive().default(1),
  use_dynamic_shifting: z.boolean().default(false),
});
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

/** Reads a JSON file; errors name the file. */
export function readJson(path: string): unknown {
  if (!existsSync(path)) throw new Error(`${path}: missing`);
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
}

/** Runs a config parser (zod-based or not); the error names the file and, for zod, each bad field. */
export function parseWith<T>(path: string, parse: (json: unknown) => T, json: unknown): T {
  try {
    return parse(json);
  } catch (err) {
    const detail = err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message;
    throw new Error(`${path}: invalid config: ${detail}`);
  }
}
