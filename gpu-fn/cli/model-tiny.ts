/**
 * npm run model:tiny [-- --out models/tiny] [--config tiny|medium] [--target cpu|cuda] [--force]
 *
 * Writes a deterministic random-weight Z-Image checkpoint in the official diffusers layout (real Qwen3 tokenizer
 * and vocab) to a temporary folder and converts it into a model folder with the production converter. The local
 * stack and the tests use the tiny one; `medium` is for benchmarks. Skips all work when `<out>` already holds a
 * valid model folder of the same preset, generator version and target.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Target } from "../model/builders/types";
import { type ConvertResult, convertCheckpoint } from "../model/convert";
import { loadModelFolder } from "../model/model-folder";
import { writeTinyCheckpoint } from "../model/tiny/checkpoint";
import { isPresetName, PRESETS, type PresetName } from "../model/tiny/presets";

/** Bump when the generated weights or configs change, so existing folders are rebuilt. */
const GENERATOR_VERSION = 2; // 2: the VAE carries encoder weights (image-to-image)
export const DEFAULT_TINY_DIR = "models/tiny";

export interface TinyModelOptions {
  preset?: PresetName;
  target?: Target;
  /** Rebuild even when a valid folder exists. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface TinyModelResult {
  modelDir: string;
  revision: string;
  /** false when an existing folder was reused. */
  built: boolean;
  convert?: ConvertResult;
}

/** model.json `name` of a generated folder: preset and generator version, so stale folders are detected. */
export function tinyModelName(preset: PresetName): string {
  return `z-image-turbo-${preset}-random-v${GENERATOR_VERSION}`;
}

export async function ensureTinyModel(dir: string, opts: TinyModelOptions = {}): Promise<TinyModelResult> {
  const preset = opts.preset ?? "tiny";
  const target = opts.target ?? "cpu";
  const out = resolve(dir);
  const existing = reusable(out, preset, target);
  if (existing && !opts.force) return { modelDir: out, revision: existing, built: false };

  const ckpt = mkdtempSync(join(tmpdir(), `z-image-${preset}-hf-`));
  // Build beside the destination and rename, so a concurrent reader never sees a half-written folder.
  const staging = `${out}.partial-${process.pid}`;
  try {
    opts.log?.(`writing the ${preset} checkpoint to ${ckpt}`);
    await writeTinyCheckpoint(ckpt, PRESETS[preset]);
    rmSync(staging, { recursive: true, force: true });
    const convert = await convertCheckpoint({
      from: ckpt,
      out: staging,
      target,
      name: tinyModelName(preset),
      defaults: { width: 256, height: 256 },
    });
    rmSync(out, { recursive: true, force: true });
    renameSync(staging, out);
    opts.log?.(`model folder ${out} (revision ${convert.model.revision})`);
    return {
      modelDir: out,
      revision: convert.model.revision,
      built: true,
      convert: { ...convert, modelDir: out },
    };
  } catch (err) {
    // Another process may have finished the same folder first.
    const done = reusable(out, preset, target);
    if (done && !opts.force) return { modelDir: out, revision: done, built: false };
    throw err;
  } finally {
    rmSync(ckpt, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The revision of a valid model folder made by this generator with the same preset and target, else null. */
function reusable(dir: string, preset: PresetName, target: Target): string | null {
  if (!existsSync(join(dir, "model.json"))) return null;
  try {
    const { model } = loadModelFolder(dir);
    return model.name === tinyModelName(preset) && model.target === target ? model.revision : null;
  } catch {
    return null;
  }
}

function parseTinyArgs(argv: string[]): { out: string } & TinyModelOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      config: { type: "string", default: "tiny" },
      target: { type: "string", default: "cpu" },
      force: { type: "boolean", default: false },
    },
    strict: true,
  });
  const preset = values.config ?? "tiny";
  if (!isPresetName(preset)) throw new Error(`--config must be tiny or medium, got ${preset}`);
  if (values.target !== "cpu" && values.target !== "cuda") {
    throw new Error(`--target must be cpu or cuda, got ${values.target}`);
  }
  const out = values.out ?? (preset === "tiny" ? DEFAULT_TINY_DIR : join(dirname(DEFAULT_TINY_DIR), preset));
  return { out, preset, target: values.target, force: values.force };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { out, ...opts } = parseTinyArgs(process.argv.slice(2));
    const started = performance.now();
    const r = await ensureTinyModel(out, { ...opts, log: (line) => console.error(line) });
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      r.built
        ? `built ${r.modelDir} (${r.convert?.parameters.toLocaleString("en-US")} params, revision ${r.revision}) in ${secs} s`
        : `${r.modelDir} is up to date (revision ${r.revision})`,
    );
  } catch (err) {
    console.error(`model:tiny failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
