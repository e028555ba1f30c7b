/** WeightSource views over safetensors: plain keys, renamed keys, and row slices of fused tensors. */
import type { TensorInfo, WeightSource } from "../weights";
import { DEFAULT_CHUNK_ELEMENTS, numel, type SafetensorsFile } from "./file";
import type { SafetensorsSet } from "./sharded";

/** Where a canonical key's data lives: a stored tensor, optionally only rows [r0, r1) of its dim 0. */
export interface TensorRef {
  file: SafetensorsFile;
  name: string;
  rows?: [number, number];
  /** A reshape with the same element count and order (e.g. a 1x1 conv [C, C, 1, 1] read as a linear [C, C]). */
  shape?: number[];
}

export class MappedWeightSource implements WeightSource {
  constructor(
    /** Shown in errors, e.g. the checkpoint folder or file. */
    readonly label: string,
    private readonly refs: ReadonlyMap<string, TensorRef>,
  ) {}

  /** Every stored tensor under its own name. */
  static fromSet(set: SafetensorsSet): MappedWeightSource {
    return new MappedWeightSource(set.label, set.tensors);
  }

  keys(): string[] {
    return [...this.refs.keys()];
  }

  has(key: string): boolean {
    return this.refs.has(key);
  }

  info(key: string): TensorInfo {
    const ref = this.ref(key);
    const e = ref.file.entry(ref.name);
    if (ref.shape) return { key, dtype: e.dtype, shape: [...ref.shape] };
    const shape = ref.rows ? [ref.rows[1] - ref.rows[0], ...e.shape.slice(1)] : [...e.shape];
    return { key, dtype: e.dtype, shape };
  }

  /** File and stored name behind a key (for error messages). */
  location(key: string): string {
    const ref = this.ref(key);
    const rows = ref.rows ? ` rows ${ref.rows[0]}..${ref.rows[1]}` : "";
    return `${ref.file.path} ["${ref.name}"${rows}]`;
  }

  async readF32(key: string): Promise<Float32Array> {
    const { file, name, start, count } = this.span(key);
    return file.readF32Range(name, start, count);
  }

  async *chunksF32(key: string, maxChunkElements = DEFAULT_CHUNK_ELEMENTS): AsyncIterable<Float32Array> {
    const { file, name, start, count } = this.span(key);
    yield* file.chunksF32(name, start, count, maxChunkElements);
  }

  private ref(key: string): TensorRef {
    const ref = this.refs.get(key);
    if (!ref) throw new Error(`${this.label}: no tensor "${key}"`);
    return ref;
  }

  private span(key: string): { file: SafetensorsFile; name: string; start: number; count: number } {
    const ref = this.ref(key);
    const shape = ref.file.entry(ref.name).shape;
    if (!ref.rows) return { file: ref.file, name: ref.name, start: 0, count: numel(shape) };
    const rowElems = numel(shape.slice(1));
    return {
      file: ref.file,
      name: ref.name,
      start: ref.rows[0] * rowElems,
      count: (ref.rows[1] - ref.rows[0]) * rowElems,
    };
  }
}
