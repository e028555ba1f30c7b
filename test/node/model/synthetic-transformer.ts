/**
 * Deterministic random S3-DiT weights for any config (tests and benchmarks): linears ~ U(±sqrt(3/fan_in)),
 * norm gains ~ 1 ± 0.1, biases and pad tokens ~ U(±0.1). Each key has its own stream, so values do not depend on
 * the order in which a builder reads them.
 */
import {
  type TransformerConfig,
  transformerKeyShapes,
} from "../../../gpu-fn/model/builders/transformer-config";
import type { WeightSource } from "../../../gpu-fn/model/weights";

export function syntheticTransformerWeights(c: TransformerConfig, seed = 1): WeightSource {
  const shapes = transformerKeyShapes(c);
  const make = (key: string): Float32Array => {
    const shape = shapes.get(key);
    if (!shape) throw new Error(`synthetic transformer: no tensor ${key}`);
    let s = seed;
    for (let i = 0; i < key.length; i++) s = Math.imul(s ^ key.charCodeAt(i), 0x9e3779b1) >>> 0;
    s ||= 1;
    const rand = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 2 ** 32 - 0.5;
    };
    const n = shape.reduce((a, b) => a * b, 1);
    const gain = shape.length === 1 && (key.includes("norm") || key === "cap_embedder.0.weight");
    const scale = shape.length === 2 && !key.includes("pad_token") ? Math.sqrt(12 / shape[1]) : 0.2;
    return Float32Array.from({ length: n }, () => (gain ? 1 + 0.2 * rand() : scale * rand()));
  };
  return {
    keys: () => [...shapes.keys()],
    has: (k) => shapes.has(k),
    info: (k) => {
      const shape = shapes.get(k);
      if (!shape) throw new Error(`synthetic transformer: no tensor ${k}`);
      return { key: k, dtype: "F32", shape };
    },
    readF32: async (k) => make(k),
    chunksF32: async function* (k) {
      yield make(k);
    },
  };
}
