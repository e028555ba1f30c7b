/** Contract between the golden runner (gpu-fn/golden/run.ts) and the per-component handlers. */

/** A tensor as read from / written to a golden case file (F32, I64 ids/masks, U8 images). */
export type GoldenTensor = {
  dtype: "F32" | "I64" | "U8";
  dims: number[];
  data: Float32Array | BigInt64Array | Uint8Array;
};

/** One tensor's entry in cases.json. */
export interface GoldenTensorSpec {
  shape: number[];
  dtype: string;
  description?: string;
}

/** One case object of cases.json (unknown extra fields are kept). */
export interface GoldenCase {
  name: string;
  /** Selects the handler module gpu-fn/golden/<component>.ts. */
  component: string;
  /** Case file, relative to the golden set folder. */
  file: string;
  description?: string;
  inputs: Record<string, GoldenTensorSpec>;
  outputs: Record<string, GoldenTensorSpec>;
  debug_tensors?: Record<string, GoldenTensorSpec>;
  params?: Record<string, unknown>;
  tolerance?: Record<string, unknown>;
  notes?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface GoldenCaseContext {
  case: GoldenCase;
  /** The case's `inputs`, read from its file (never its outputs). */
  inputs: Record<string, GoldenTensor>;
  /** Converted model folder (model.json + graphs) for the set's checkpoint. */
  modelDir: string;
  provider: "cpu" | "cuda";
}

/** Each gpu-fn/golden/<component>.ts exports one of these as `runCase`. */
export type GoldenHandler = (ctx: GoldenCaseContext) => Promise<Record<string, GoldenTensor>>;
