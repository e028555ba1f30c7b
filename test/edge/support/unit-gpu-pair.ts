/**
 * Two scripted backends and a GpuClient over them, for the unit tests of the GPU client (gpu-client.test.ts,
 * gpu-stream-client.test.ts): hosts `gpu-a.{tag}` / `gpu-b.{tag}`, their own secret and revision, a breaker
 * that opens after two failures, and one 64x64 request.
 */
import { CircuitBreaker } from "../../../edge/gpu/circuit-breaker";
import { GpuClient, type GpuClientOptions } from "../../../edge/gpu/client";
import type { InferRequest } from "../../../shared/protocol";
import { type Behaviour, FakeGpu } from "./fake-gpu";

export function unitGpuPair(tag: string, attemptTimeoutMs: number) {
  const SECRET = "unit-secret";
  const REVISION = "rev-1";
  const A = `gpu-a.${tag}`;
  const B = `gpu-b.${tag}`;
  const request: Omit<InferRequest, "deadline_ms"> = {
    request_id: `req_${tag}`,
    prompt: "a lighthouse",
    negative_prompt: "",
    width: 64,
    height: 64,
    steps: 8,
    guidance_scale: 0,
    seed: 9,
    output_format: "png",
  };
  const client = (gpu: FakeGpu, overrides: Partial<GpuClientOptions> = {}) =>
    new GpuClient({
      backends: [`http://${A}`, `http://${B}`],
      secret: SECRET,
      modelRevision: REVISION,
      attemptTimeoutMs,
      deadlineMs: 3000,
      breaker: new CircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 }),
      fetch: (input, init) => gpu.handle(new Request(input, init)),
      ...overrides,
    });
  const fake = (a: Behaviour, b: Behaviour = { kind: "ok" }) =>
    new FakeGpu(SECRET, REVISION).always(A, a).always(B, b);
  return { SECRET, REVISION, A, B, request, client, fake };
}
