/** Helpers for driving the edge worker through SELF in tests. */
import { env, SELF } from "cloudflare:test";
import type { GenerationRequestInput, GenerationResponse } from "../../../shared/api";
import { type CanonicalImageRequest, cacheKey } from "../../../shared/cache-key";
import type { ErrorEnvelope } from "../../../shared/errors";

export const ORIGIN = "http://edge.test";
export const BACKEND_A = "gpu-a.test";
export const BACKEND_B = "gpu-b.test";
export const TEST_SECRET = env.GPU_HMAC_SECRET;
export const TEST_REVISION = env.MODEL_REVISION;

export function postGeneration(body: GenerationRequestInput | string, headers: Record<string, string> = {}) {
  return SELF.fetch(`${ORIGIN}/v1/images/generations`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function readJson<T = GenerationResponse>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export async function readError(res: Response): Promise<ErrorEnvelope["error"]> {
  return ((await res.json()) as ErrorEnvelope).error;
}

/** A prompt unique to one test, so tests never share cache entries. */
export function uniquePrompt(label: string): string {
  return `${label} ${crypto.randomUUID()}`;
}

/** Canonical form of `{ prompt, size: "64x64", seed }` under the test revision: 8 steps, guidance 0, PNG. */
export function testImageRequest(prompt: string, seed: number): CanonicalImageRequest {
  return {
    modelRevision: TEST_REVISION,
    prompt,
    negativePrompt: "",
    width: 64,
    height: 64,
    steps: 8,
    guidanceScale: 0,
    seed,
    outputFormat: "png",
    outputQuality: null,
  };
}

/** The cacheKey the edge gives `{ prompt, size: "64x64", seed }`. */
export function testCacheKey(prompt: string, seed: number): Promise<string> {
  return cacheKey(testImageRequest(prompt, seed));
}
