/**
 * Runs a golden set: convert `<set>/checkpoint`, run every case of `<set>/cases.json` (then of
 * `<set>/cases-img2img.json` when the set has it: VAE encoder and image-to-image cases) through the handler
 * `gpu-fn/golden/<component>.ts`, write each case's actual outputs to `<out>/<case file name>`, compare them
 * with the expected outputs when the case file has them. Inputs come only from each case's `inputs`.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import type { Target } from "../model/builders/types";
import { convertCheckpoint } from "../model/convert";
import { SafetensorsFile, writeSafetensors } from "../model/safetensors";
import { compareTensor, type TensorCheck } from "./compare";
import { toleranceFor } from "./tolerances";
import type { GoldenCase, GoldenHandler, GoldenTensor } from "./types";

const tensorSpec = z.looseObject({ shape: z.array(z.number().int().nonnegative()), dtype: z.string() });
const casesSchema = z.looseObject({
  set: z.string().optional(),
  cases: z.array(
    z.looseObject({
      name: z.string().min(1),
      component: z.string().regex(/^[a-z0-9_]+$/, "component must be a plain module name"),
      file: z.string().min(1),
      inputs: z.record(z.string(), tensorSpec).default({}),
      outputs: z.record(z.string(), tensorSpec).default({}),
    }),
  ),
});

export interface GoldenRunOptions {
  /** Golden set folder (cases.json, cases/, checkpoint/). */
  setDir: string;
  /** Where actual outputs (and the converted model, under `model/`) are written. */
  outDir: string;
  /** Graph target to convert for. Default cpu. */
  target?: Target;
  /** Execution provider. Default cpu (the cuda target runs on CPU in CI). */
  provider?: "cpu" | "cuda";
  /** Use this converted model folder instead of converting `<set>/checkpoint`. */
  modelDir?: string;
  /** Only these case names. */
  only?: string[];
  /** Receives one line per case and per tensor (default console.log). */
  log?: (line: string) => void;
}

export type CaseStatus = "passed" | "failed" | "written";

export interface CaseReport {
  name: string;
  component: string;
  status: CaseStatus;
  seconds: number;
  error?: string;
  tensors: TensorCheck[];
  outputFile?: string;
}

export interface GoldenReport {
  set: string;
  target: Target;
  modelDir: string;
  cases: CaseReport[];
  /** True when no case failed. */
  ok: boolean;
}

const HANDLER_DIR = dirname(fileURLToPath(import.meta.url));
/** The case lists a set may have; the second is optional (sets from before image-to-image lack it). */
export const CASE_FILES = ["cases.json", "cases-img2img.json"] as const;

function readCases(path: string): z.infer<typeof casesSchema> {
  const parsed = casesSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) throw new Error(`${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export async function runGolden(opts: GoldenRunOptions): Promise<GoldenReport> {
  const setDir = resolve(opts.setDir);
  const outDir = resolve(opts.outDir);
  const target = opts.target ?? "cpu";
  const provider = opts.provider ?? "cpu";
  const log = opts.log ?? ((line: string) => console.log(line));
  const parsed = readCases(join(setDir, "cases.json"));
  const img2imgPath = join(setDir, CASE_FILES[1]);
  const extra = existsSync(img2imgPath) ? readCases(img2imgPath).cases : [];
  const cases = ([...parsed.cases, ...extra] as GoldenCase[]).filter(
    (c) => !opts.only || opts.only.includes(c.name),
  );
  mkdirSync(outDir, { recursive: true });

  let modelDir = opts.modelDir ? resolve(opts.modelDir) : join(outDir, "model");
  if (!opts.modelDir) {
    const r = await convertCheckpoint({ from: join(setDir, "checkpoint"), out: modelDir, target });
    modelDir = r.modelDir;
    log(
      `converted ${join(setDir, "checkpoint")} -> ${modelDir} (${target}, ${r.model.revision}, ${r.seconds.toFixed(1)} s)`,
    );
  }

  const reports: CaseReport[] = [];
  for (const c of cases) {
    const report = await runOne(c, {
      setDir,
      outDir,
      modelDir,
      target,
      provider,
      set: parsed.set ?? basename(setDir),
    });
    reports.push(report);
    printCase(report, log);
  }
  const failed = reports.filter((r) => r.status === "failed").length;
  const written = reports.filter((r) => r.status === "written").length;
  log(
    `${reports.length - failed - written} passed, ${failed} failed, ${written} written without reference (${target})`,
  );
  return { set: parsed.set ?? basename(setDir), target, modelDir, cases: reports, ok: failed === 0 };
}

interface RunContext {
  setDir: string;
  outDir: string;
  modelDir: string;
  target: Target;
  provider: "cpu" | "cuda";
  set: string;
}

async function runOne(c: GoldenCase, rc: RunContext): Promise<CaseReport> {
  const started = performance.now();
  const report: CaseReport = {
    name: c.name,
    component: c.component,
    status: "failed",
    seconds: 0,
    tensors: [],
  };
  const finish = () => {
    report.seconds = (performance.now() - started) / 1000;
    return report;
  };
  const handler = await loadHandler(c.component);
  if (!handler) {
    report.error = `no handler (gpu-fn/golden/${c.component}.ts does not exist)`;
    return finish();
  }
  const casePath = join(rc.setDir, c.file);
  const file = existsSync(casePath) ? SafetensorsFile.open(casePath) : null;
  try {
    const inputs: Record<string, GoldenTensor> = {};
    for (const [name, spec] of Object.entries(c.inputs)) {
      if (!file) throw new Error(`${casePath}: missing (the case has inputs)`);
      inputs[name] = readTensor(file, name, spec.shape);
    }
    const actual = await handler({ case: c, inputs, modelDir: rc.modelDir, provider: rc.provider });
    const missing = Object.keys(c.outputs).filter((n) => !(n in actual));
    if (missing.length > 0) throw new Error(`handler returned no ${missing.map((n) => `"${n}"`).join(", ")}`);

    const names = [...Object.keys(c.outputs), ...Object.keys(actual).filter((n) => !(n in c.outputs))];
    report.outputFile = join(rc.outDir, basename(c.file));
    writeSafetensors(
      report.outputFile,
      names.map((n) => ({ name: n, dtype: actual[n].dtype, shape: actual[n].dims, data: actual[n].data })),
      { case: c.name, set: rc.set, target: rc.target },
    );

    const withReference = Object.keys(c.outputs).filter((n) => file?.entries.has(n));
    if (withReference.length === 0) {
      report.status = "written";
      return finish();
    }
    const valid = c.component === "text_encoder" ? (inputs.attention_mask ?? null) : null;
    for (const n of withReference) {
      const expected = readTensor(file!, n);
      const tol = toleranceFor(c, n, expected.dtype, rc.target);
      report.tensors.push(compareTensor(n, actual[n], expected, tol, validMask(valid, expected)));
    }
    report.status = report.tensors.every((t) => t.ok) ? "passed" : "failed";
  } catch (err) {
    report.error = (err as Error).message;
  } finally {
    file?.close();
  }
  return finish();
}

/** Text-encoder outputs shaped [B, L, ...] compare only where attention_mask == 1 (pads are dropped later). */
function validMask(mask: GoldenTensor | null, expected: GoldenTensor): Uint8Array | undefined {
  if (mask?.dims.length !== 2) return undefined;
  if (expected.dims.length < 2 || expected.dims[0] !== mask.dims[0] || expected.dims[1] !== mask.dims[1]) {
    return undefined;
  }
  return Uint8Array.from(mask.data as BigInt64Array, (v) => (v === 1n ? 1 : 0));
}

async function loadHandler(component: string): Promise<GoldenHandler | null> {
  const path = join(HANDLER_DIR, `${component}.ts`);
  if (!existsSync(path)) return null;
  const mod = (await import(pathToFileURL(path).href)) as { runCase?: unknown };
  if (typeof mod.runCase !== "function") throw new Error(`${path} does not export runCase`);
  return mod.runCase as GoldenHandler;
}

function readTensor(file: SafetensorsFile, name: string, shape?: number[]): GoldenTensor {
  if (!file.entries.has(name)) throw new Error(`${file.path}: no tensor "${name}"`);
  const e = file.entry(name);
  if (shape && e.shape.join() !== shape.join()) {
    throw new Error(`${file.path}: tensor "${name}" has shape [${e.shape}], cases.json says [${shape}]`);
  }
  if (e.dtype === "F32" || e.dtype === "F16" || e.dtype === "BF16") {
    return { dtype: "F32", dims: [...e.shape], data: file.readF32(name) };
  }
  if (e.dtype === "I64" || e.dtype === "U8") {
    return { dtype: e.dtype, dims: [...e.shape], data: file.readRaw(name) as BigInt64Array | Uint8Array };
  }
  throw new Error(`${file.path}: tensor "${name}" has dtype ${e.dtype}; golden tensors are F32, I64 or U8`);
}

function printCase(r: CaseReport, log: (line: string) => void): void {
  const head = r.status === "passed" ? "PASS" : r.status === "written" ? "WROTE" : "FAIL";
  log(
    `${head.padEnd(5)} ${r.name} (${r.component}, ${r.seconds.toFixed(2)} s)${r.error ? `: ${r.error}` : ""}`,
  );
  for (const t of r.tensors) {
    const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
    const differ = t.rule.startsWith("|d|") ? `, ${t.bad} of ${t.compared} differ` : "";
    const extra = t.ok ? "" : ` <- ${t.problem ?? `${t.bad} of ${t.compared} values outside`}`;
    log(`      ${t.name}: max abs ${fmt(t.maxAbs)}, max rel ${fmt(t.maxRel)}${differ} [${t.rule}]${extra}`);
  }
}
