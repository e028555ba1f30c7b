/**
 * Golden handler for `text_encoder` cases: runs `<modelDir>/text_encoder.onnx` on the case's `input_ids` /
 * `attention_mask` and returns the outputs the case lists: `hidden_states_m2` (hidden_states[-2], [B, L, hidden])
 * and `valid_item<i>` (item i's rows where attention_mask == 1, what the pipeline keeps).
 */
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { TEXT_ENCODER_FILE } from "../model/builders/text-encoder";
import type { GoldenCaseContext, GoldenTensor } from "./types";

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const ids = requireI64(ctx, "input_ids");
  const mask = requireI64(ctx, "attention_mask");
  if (ids.dims.join() !== mask.dims.join()) {
    throw new Error(`${ctx.case.name}: input_ids [${ids.dims}] and attention_mask [${mask.dims}] differ`);
  }
  const session = await ort.InferenceSession.create(join(ctx.modelDir, TEXT_ENCODER_FILE), {
    executionProviders: [ctx.provider],
  });
  let hidden: ort.Tensor;
  try {
    const out = await session.run({
      input_ids: new ort.Tensor("int64", ids.data as BigInt64Array, ids.dims),
      attention_mask: new ort.Tensor("int64", mask.data as BigInt64Array, mask.dims),
    });
    hidden = out.hidden_states;
  } finally {
    await session.release();
  }
  const full: GoldenTensor = { dtype: "F32", dims: [...hidden.dims], data: hidden.data as Float32Array };

  const result: Record<string, GoldenTensor> = {};
  for (const name of Object.keys(ctx.case.outputs)) {
    if (name === "hidden_states_m2") {
      result[name] = full;
      continue;
    }
    const item = /^valid_item(\d+)$/.exec(name);
    if (!item) throw new Error(`${ctx.case.name}: text_encoder cannot produce output "${name}"`);
    result[name] = validRows(full, mask, Number(item[1]));
  }
  return result;
}

function requireI64(ctx: GoldenCaseContext, name: string): GoldenTensor {
  const t = ctx.inputs[name];
  if (t?.dtype !== "I64" || t.dims.length !== 2) {
    throw new Error(`${ctx.case.name}: input "${name}" must be I64 [B, L]`);
  }
  return t;
}

/** Rows of item `b` whose attention_mask is 1, in order: [n_valid, hidden]. */
function validRows(hidden: GoldenTensor, mask: GoldenTensor, b: number): GoldenTensor {
  const [batch, len, width] = hidden.dims;
  if (b >= batch) throw new Error(`valid_item${b}: batch has only ${batch} items`);
  const m = mask.data as BigInt64Array;
  const src = hidden.data as Float32Array;
  const rows: number[] = [];
  for (let i = 0; i < len; i++) if (m[b * len + i] === 1n) rows.push(i);
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, k) => {
    out.set(src.subarray((b * len + r) * width, (b * len + r + 1) * width), k * width);
  });
  return { dtype: "F32", dims: [rows.length, width], data: out };
}
