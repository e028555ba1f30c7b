/**
 * Reads the golden set `tiny-a` (vendored from the design folder) for tests. A minimal safetensors parse
 * (F32 / I64 / U8 only) so the pipeline tests do not depend on the model builder's reader.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export const GOLDEN_DIR = path.resolve("test/fixtures/golden/tiny-a");

export type LiteTensor = { dtype: string; shape: number[]; data: Float32Array | BigInt64Array | Uint8Array };

export function readSafetensors(file: string): Record<string, LiteTensor> {
  const buf = readFileSync(path.resolve(GOLDEN_DIR, file));
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString("utf8")) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLen;
  const out: Record<string, LiteTensor> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [begin, end] = info.data_offsets;
    const bytes = buf.subarray(base + begin, base + end);
    const copy = new Uint8Array(bytes); // aligned copy
    const data =
      info.dtype === "F32"
        ? new Float32Array(copy.buffer)
        : info.dtype === "I64"
          ? new BigInt64Array(copy.buffer)
          : info.dtype === "U8"
            ? copy
            : undefined;
    if (!data) throw new Error(`unsupported dtype ${info.dtype} for ${name}`);
    out[name] = { dtype: info.dtype, shape: info.shape, data };
  }
  return out;
}

export function readCases(): { cases: Array<Record<string, unknown> & { name: string; component: string }> } {
  return JSON.parse(readFileSync(path.join(GOLDEN_DIR, "cases.json"), "utf8"));
}
