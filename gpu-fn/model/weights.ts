/** What graph builders read weights from; implemented over (sharded) safetensors checkpoints. */
export type StorageDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "U8" | "BOOL";

export interface TensorInfo {
  /** Canonical key (diffusers / HF names, after any renames such as ComfyUI's or a `model.` prefix). */
  key: string;
  dtype: StorageDType;
  shape: number[];
}

export interface WeightSource {
  keys(): string[];
  has(key: string): boolean;
  /** Throws a clear error naming the file and key when the tensor is missing. */
  info(key: string): TensorInfo;
  /** The whole tensor, upcast exactly to fp32. */
  readF32(key: string): Promise<Float32Array>;
  /** The tensor as fp32 chunks in C order, so huge tensors never sit in memory whole. */
  chunksF32(key: string, maxChunkElements?: number): AsyncIterable<Float32Array>;
}
