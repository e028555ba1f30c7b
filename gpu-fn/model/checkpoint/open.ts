/**
 * Opens a diffusers-layout Z-Image checkpoint folder (spec §1.1) into per-component weight sources under
 * canonical keys plus their configs. The transformer may instead come from a ComfyUI-style single file.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseVaeConfig, type VaeConfig } from "../builders/vae-decoder-config";
import { MappedWeightSource, openSafetensors, type SafetensorsSet } from "../safetensors";
import {
  type ModelIndex,
  modelIndexSchema,
  parseWith,
  readJson,
  type SchedulerConfig,
  schedulerConfigSchema,
} from "./configs";
import { comfyTransformerRefs, isComfyTransformer, isLdmVae, ldmVaeRefs, textEncoderRefs } from "./layouts";

export interface ComponentCheckpoint {
  /** Folder of the component (config.json lives here). */
  dir: string;
  /** config.json as read; each builder parses its own (parseTransformerConfig, parseTextEncoderConfig). */
  configJson: unknown;
  weights: MappedWeightSource;
}

export interface Checkpoint {
  root: string;
  modelIndex: ModelIndex;
  transformer: ComponentCheckpoint & { layout: "diffusers" | "comfyui" };
  textEncoder: ComponentCheckpoint;
  vae: ComponentCheckpoint & { config: VaeConfig };
  scheduler: SchedulerConfig;
  /** tokenizer/tokenizer.json and tokenizer_config.json when the folder has them. */
  tokenizer: { file: string; config: string | null } | null;
  close(): void;
}

export interface OpenCheckpointOptions {
  /** A ComfyUI-style (or diffusers) single-file transformer replacing `transformer/*.safetensors`. */
  transformerFile?: string;
  /** A ComfyUI-style single-file VAE (LDM names, e.g. BFL's ae.safetensors) replacing `vae/*.safetensors`. */
  vaeFile?: string;
}

export function openCheckpoint(root: string, opts: OpenCheckpointOptions = {}): Checkpoint {
  if (!existsSync(root)) throw new Error(`${root}: no such checkpoint folder`);
  const indexPath = join(root, "model_index.json");
  const modelIndex = parseWith(indexPath, (j) => modelIndexSchema.parse(j), readJson(indexPath));
  const sets: SafetensorsSet[] = [];
  const open = (path: string) => {
    const s = openSafetensors(path);
    sets.push(s);
    return s;
  };
  try {
    const tDir = join(root, "transformer");
    const tConfig = readJson(join(tDir, "config.json"));
    const tSet = open(opts.transformerFile ?? tDir);
    const comfy = isComfyTransformer(tSet);
    const transformer = {
      dir: tDir,
      configJson: tConfig,
      layout: comfy ? ("comfyui" as const) : ("diffusers" as const),
      weights: comfy
        ? new MappedWeightSource(tSet.label, comfyTransformerRefs(tSet, patchKey(tConfig)))
        : MappedWeightSource.fromSet(tSet),
    };

    const teDir = join(root, "text_encoder");
    const teSet = open(teDir);
    const textEncoder = {
      dir: teDir,
      configJson: readJson(join(teDir, "config.json")),
      weights: new MappedWeightSource(teSet.label, textEncoderRefs(teSet)),
    };

    const vDir = join(root, "vae");
    const vJson = readJson(join(vDir, "config.json"));
    const vConfig = parseWith(join(vDir, "config.json"), parseVaeConfig, vJson);
    const vSet = open(opts.vaeFile ?? vDir);
    const vae = {
      dir: vDir,
      configJson: vJson,
      config: vConfig,
      weights: isLdmVae(vSet)
        ? new MappedWeightSource(vSet.label, ldmVaeRefs(vSet, vConfig.block_out_channels.length))
        : MappedWeightSource.fromSet(vSet),
    };

    const sPath = join(root, "scheduler", "scheduler_config.json");
    const scheduler = parseWith(sPath, (j) => schedulerConfigSchema.parse(j), readJson(sPath));

    const tokJson = join(root, "tokenizer", "tokenizer.json");
    const tokCfg = join(root, "tokenizer", "tokenizer_config.json");
    const tokenizer = existsSync(tokJson)
      ? { file: tokJson, config: existsSync(tokCfg) ? tokCfg : null }
      : null;

    return {
      root,
      modelIndex,
      transformer,
      textEncoder,
      vae,
      scheduler,
      tokenizer,
      close: () => {
        for (const s of sets) s.close();
      },
    };
  } catch (err) {
    for (const s of sets) s.close();
    throw err;
  }
}

/** diffusers names the embedder/final layer by "{patch}-{f_patch}" (spec §2: "2-1"). */
function patchKey(config: unknown): string {
  const c = config as { all_patch_size?: unknown; all_f_patch_size?: unknown };
  const p = Array.isArray(c.all_patch_size) ? c.all_patch_size[0] : 2;
  const f = Array.isArray(c.all_f_patch_size) ? c.all_f_patch_size[0] : 1;
  return `${p}-${f}`;
}
