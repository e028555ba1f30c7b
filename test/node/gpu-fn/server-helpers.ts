/**
 * Starts the GPU function in-process on models/tiny (random weights, real Qwen3 tokenizer and vocabulary; built by
 * the model builder's ensureTinyModel when missing) and sends signed requests to it over real HTTP.
 */
import sharp from "sharp";
import { DEFAULT_TINY_DIR, ensureTinyModel } from "../../../gpu-fn/cli/model-tiny";
import type { GpuFnConfig } from "../../../gpu-fn/server/config";
import { type GpuFnHandle, type StartOptions, startGpuFn } from "../../../gpu-fn/server/start";
import { signRequest } from "../../../shared/hmac";
import { INFER_PATH, type InferRequestInput } from "../../../shared/protocol";

let tiny: Promise<string> | null = null;
export function tinyModelDir(): Promise<string> {
  tiny ??= ensureTinyModel(DEFAULT_TINY_DIR).then((r) => r.modelDir);
  return tiny;
}

export const SECRET = "test-secret-0123456789";

export async function startTestServer(
  overrides: Partial<GpuFnConfig> = {},
  opts: StartOptions = {},
): Promise<{ fn: GpuFnHandle; url: string; logs: string[] }> {
  const logs: string[] = [];
  const cfg: GpuFnConfig = {
    modelDir: await tinyModelDir(),
    port: 0,
    host: "127.0.0.1",
    executionProvider: "cpu",
    hmacSecret: SECRET,
    maxBatch: 1,
    maxWaitMs: 0,
    maxQueue: 16,
    maxSide: 512,
    warmupSize: 16,
    drainTimeoutMs: 60_000,
    hmacMaxSkewMs: 300_000,
    audiences: [],
    metricsToken: null,
    ...overrides,
  };
  const fn = await startGpuFn(cfg, (l) => logs.push(l), opts);
  return { fn, url: `http://127.0.0.1:${fn.port}`, logs };
}

export function inferBody(over: Partial<InferRequestInput> = {}): InferRequestInput {
  return {
    request_id: `req-${Math.random().toString(36).slice(2)}`,
    prompt: "a red fox in the snow",
    width: 64,
    height: 64,
    steps: 4,
    guidance_scale: 0,
    seed: 1234,
    output_format: "png",
    ...over,
  };
}

export async function signedInfer(
  url: string,
  body: unknown,
  opts: { headers?: Record<string, string>; signal?: AbortSignal; raw?: string; now?: number } = {},
): Promise<Response> {
  const text = opts.raw ?? JSON.stringify(body);
  const signed = await signRequest({
    secret: SECRET,
    method: "POST",
    path: INFER_PATH,
    body: text,
    now: opts.now,
  });
  return fetch(url + INFER_PATH, {
    method: "POST",
    body: text,
    headers: { "content-type": "application/json", ...signed, ...opts.headers },
    signal: opts.signal,
  });
}

export async function pixels(res: Response): Promise<Uint8Array> {
  const buf = Buffer.from(await res.arrayBuffer());
  return new Uint8Array(await sharp(buf).raw().toBuffer());
}
