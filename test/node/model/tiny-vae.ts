/** The golden tiny-a checkpoint's VAE, and a VAE graph (encoder or decoder) built from it for the tests. */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { BuildOptions, BuiltGraph, Target } from "../../../gpu-fn/model/builders/types";
import { parseVaeConfig, type VaeConfig } from "../../../gpu-fn/model/builders/vae-decoder";
import { MappedWeightSource, openSafetensors } from "../../../gpu-fn/model/safetensors";

export const TINY = resolve("test/fixtures/golden/tiny-a");
export const VAE = join(TINY, "checkpoint/vae");
export const baseConfig = parseVaeConfig(JSON.parse(readFileSync(join(VAE, "config.json"), "utf8")));

/** Builds one VAE graph into `outDir`; returns the builder's result and the .onnx path. */
export async function buildTinyVae(
  builder: (opts: BuildOptions<VaeConfig>) => Promise<BuiltGraph>,
  outDir: string,
  target: Target,
  config: VaeConfig = baseConfig,
) {
  const set = openSafetensors(VAE);
  try {
    const built = await builder({ weights: MappedWeightSource.fromSet(set), config, target, outDir });
    return { ...built, path: join(outDir, built.file) };
  } finally {
    set.close();
  }
}
