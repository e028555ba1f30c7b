import type { WeightSource } from "../weights";

export type Target = "cpu" | "cuda";

/** What every component builder (text encoder, transformer, VAE decoder) receives. */
export interface BuildOptions<Config> {
  /** Tensors under canonical keys (diffusers/HF names; prefixes and ComfyUI renames already resolved). */
  weights: WeightSource;
  /** The component's config.json, parsed and validated. */
  config: Config;
  /** cpu: fp32 weights/ops with CPU kernels; cuda: fp16 weights + fused ops that also have CPU kernels. */
  target: Target;
  /** Folder the graph is written to: `<outDir>/<component>.onnx` and `<outDir>/<component>.onnx.data`. */
  outDir: string;
  /** Called after each weight is written (for the converter's progress bar). */
  onProgress?: (doneParams: number, totalParams: number) => void;
}

/** What a builder returns for model.json and the converter's summary. */
export interface BuiltGraph {
  /** File names relative to outDir. */
  file: string;
  data: string;
  parameters: number;
  /** Bytes of the .onnx file plus its external data. */
  bytes: number;
}
