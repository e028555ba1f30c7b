/**
 * The GPU client over the streaming inference call (edge/gpu/client.ts + infer-stream-reader.ts), against the
 * scripted fake GPU in the Workers runtime: progress events, progress-based attempt timeouts, failover after a
 * killed or frozen backend, and the immediate 503 when every circuit is open.
 */
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../edge/gpu/circuit-breaker";
import type { GpuProgress } from "../../edge/gpu/client";
import { INFER_STREAM_PATH } from "../../shared/protocol";
import { type Behaviour, fakeImage } from "./support/fake-gpu";
import { unitGpuPair } from "./support/unit-gpu-pair";

const { A, B, request, client, fake } = unitGpuPair("stream", 300);

describe("GpuClient over /v1/infer/stream", () => {
  it("asks for previews and passes queued, started, steps and previews on, then returns the image", async () => {
    const gpu = fake({ kind: "ok" });
    const events: GpuProgress[] = [];
    const out = await client(gpu).infer(request, { previews: 2, onEvent: (e) => events.push(e) });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.image.bytes).toEqual(fakeImage(request));
    expect(gpu.calls[0]).toMatchObject({ path: INFER_STREAM_PATH, auth: "ok", body: { previews: 2 } });
    const kinds = events
      .filter((e) => e.type !== "heartbeat")
      .map((e) => (e.type === "step" ? `s${e.step}` : e.type));
    // 2 previews over 8 steps: after steps 3 and 5 (evenly spaced, never the last step).
    expect(kinds).toEqual([
      "queued",
      "started",
      "s1",
      "s2",
      "s3",
      "preview",
      "s4",
      "s5",
      "preview",
      "s6",
      "s7",
      "s8",
    ]);
    expect(events.every((e) => e.attempt === 1)).toBe(true);
  });

  it("lets a job that keeps stepping run past the attempt timeout and the deadline (a slow 30-step job)", async () => {
    const gpu = fake({ kind: "ok", stepMs: 40 });
    // 30 steps x 40 ms = 1.2 s: four times the attempt timeout and above the deadline, yet progress never stops.
    const out = await client(gpu, { attemptTimeoutMs: 300, deadlineMs: 500 }).infer({
      ...request,
      steps: 30,
    });
    expect(out.ok).toBe(true);
    expect(out.attempts).toHaveLength(1);
  });

  it.each<[string, Behaviour, string]>([
    ["killed mid-stream", { kind: "die", afterSteps: 3 }, "connection"],
    ["stuck (heartbeats, no steps)", { kind: "stall", afterSteps: 2, heartbeats: true }, "timeout"],
    ["frozen (no heartbeats)", { kind: "stall", afterSteps: 2, heartbeats: false }, "timeout"],
    ["failing with an error event (500)", { kind: "error-event", status: 500 }, "server_error"],
    ["dropping the job at its deadline (504)", { kind: "error-event", status: 504 }, "busy"],
  ])(
    "fails over to the other backend when one is %s; progress restarts with attempt 2",
    async (_n, behaviour, outcome) => {
      const gpu = fake(behaviour);
      const events: GpuProgress[] = [];
      const out = await client(gpu).infer(request, { onEvent: (e) => events.push(e) });
      expect(out.ok).toBe(true);
      expect(out.attempts.map((a) => [a.backend, a.outcome])).toEqual([
        [`http://${A}`, outcome],
        [`http://${B}`, "ok"],
      ]);
      expect(events.filter((e) => e.type === "step" && e.attempt === 2)).toHaveLength(8);
    },
  );

  it("does not retry a job the backend rejects after accepting it (4xx error event) and reports 502", async () => {
    const gpu = fake({ kind: "error-event", status: 422 });
    const out = await client(gpu).infer(request);
    expect(out).toMatchObject({ ok: false, status: 502, code: "gpu_rejected" });
    expect(gpu.calls).toHaveLength(1);
  });

  it("answers 503 at once, without calling anything, when every circuit is open; Retry-After is the cooldown left", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    breaker.recordFailure(`http://${A}`, Date.now());
    breaker.recordFailure(`http://${B}`, Date.now());
    const gpu = fake({ kind: "ok" });
    // A deadline far beyond the cooldown: waiting for the circuits would take a minute; the answer must not.
    const out = await client(gpu, { breaker, deadlineMs: 120_000 }).infer(request);
    expect(out).toMatchObject({ ok: false, status: 503, code: "gpu_backends_unavailable" });
    if (out.ok) return;
    expect(out.retryAfterS).toBeGreaterThanOrEqual(59);
    expect(out.retryAfterS).toBeLessThanOrEqual(60);
    expect(gpu.calls).toHaveLength(0);
  });

  it("stops the attempt in flight when the caller aborts, without blaming the backend", async () => {
    const gpu = fake({ kind: "ok", stepMs: 30 }, { kind: "ok", stepMs: 30 });
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    const abort = new AbortController();
    const c = client(gpu, { breaker });
    const out = await c.infer(request, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === "step" && e.step === 2) abort.abort();
      },
    });
    expect(out).toMatchObject({ ok: false, code: "cancelled" });
    expect(gpu.calls).toHaveLength(1);
    expect(breaker.stateOf(`http://${A}`, Date.now())).toBe("closed");
  });
});
