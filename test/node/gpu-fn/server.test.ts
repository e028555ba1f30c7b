import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuFnHandle } from "../../../gpu-fn/server/start";
import { HMAC_HEADERS } from "../../../shared/protocol";
import { inferBody, pixels, SECRET, signedInfer, startTestServer } from "./server-helpers";

describe("GPU function server (tiny-a model, real worker + ORT CPU)", () => {
  let fn: GpuFnHandle;
  let url: string;
  let openGate: () => void;
  let readyzWhileStarting: Response;

  beforeAll(async () => {
    const gate = new Promise<void>((r) => {
      openGate = r;
    });
    ({ fn, url } = await startTestServer({ maxBatch: 1 }, { readyGate: gate }));
    readyzWhileStarting = await fetch(`${url}/readyz`);
    openGate();
    await fn.ready;
  });

  afterAll(async () => {
    await fn?.shutdown();
  });

  it("binds to the configured HOST only", () => {
    expect(fn.host).toBe("127.0.0.1");
  });

  it("readiness: 503 with Retry-After while starting, 200 once models are warm; liveness always 200", async () => {
    expect(readyzWhileStarting.status).toBe(503);
    expect(Number(readyzWhileStarting.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await readyzWhileStarting.json()).toMatchObject({ status: "starting" });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", provider: "cpu" });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it("returns a PNG with seed, revision, truncation and server-timing headers", async () => {
    const res = await signedInfer(url, inferBody({ seed: 2 ** 40 + 5 }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("x-zi-seed")).toBe(String(2 ** 40 + 5));
    expect(res.headers.get("x-zi-model-revision")).toMatch(/^zit-[0-9a-f]{16}$/);
    expect(res.headers.get("x-zi-prompt-truncated")).toBe("0");
    const timing = res.headers.get("server-timing") ?? "";
    for (const stage of ["tokenize", "queue", "text_encoder", "denoise", "decode", "image_encode", "total"]) {
      expect(timing).toMatch(new RegExp(`${stage};dur=\\d`));
    }
    expect((await pixels(res)).length).toBe(64 * 64 * 3);
  });

  it("seed determinism: the same request gives identical bytes; another seed does not", async () => {
    const body = inferBody({ seed: 77, output_format: "webp", quality: 80 });
    const a = Buffer.from(await (await signedInfer(url, body)).arrayBuffer());
    const b = Buffer.from(await (await signedInfer(url, { ...body, request_id: "other" })).arrayBuffer());
    const c = Buffer.from(await (await signedInfer(url, { ...body, seed: 78 })).arrayBuffer());
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it("seeds are taken mod 2^32 like torch.manual_seed", async () => {
    const a = await pixels(await signedInfer(url, inferBody({ seed: 7 })));
    const b = await pixels(await signedInfer(url, inferBody({ seed: 2 ** 32 + 7 })));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it("reports prompt truncation beyond 512 tokens", async () => {
    const res = await signedInfer(url, inferBody({ prompt: "word ".repeat(700) }));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-zi-prompt-truncated")).toBe("1");
  });

  it("runs CFG requests and honours output formats", async () => {
    const res = await signedInfer(
      url,
      inferBody({ guidance_scale: 3, negative_prompt: "blurry", output_format: "jpeg", quality: 70 }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
  });

  describe("HMAC", () => {
    it("401 without signature headers", async () => {
      const res = await fetch(`${url}/v1/infer`, { method: "POST", body: JSON.stringify(inferBody()) });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({
        error: { type: "authentication_error", code: "missing_signature" },
      });
    });

    it("401 when the body was changed after signing", async () => {
      const body = JSON.stringify(inferBody());
      const { signRequest } = await import("../../../shared/hmac");
      const headers = await signRequest({ secret: SECRET, method: "POST", path: "/v1/infer", body });
      const res = await fetch(`${url}/v1/infer`, {
        method: "POST",
        body: body.replace("fox", "cat"),
        headers,
      });
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe("bad_signature");
    });

    it("401 for a wrong secret, a stale timestamp and a replayed nonce", async () => {
      const wrong = await signedInfer(url, inferBody(), {
        headers: { [HMAC_HEADERS.signature]: "ab".repeat(32) },
      });
      expect((await errorOf(wrong)).code).toBe("bad_signature");
      const stale = await signedInfer(url, inferBody(), { now: Date.now() - 3_600_000 });
      expect(stale.status).toBe(401);
      expect((await errorOf(stale)).code).toBe("stale_timestamp");
      const body = JSON.stringify(inferBody());
      const { signRequest } = await import("../../../shared/hmac");
      const headers = await signRequest({ secret: SECRET, method: "POST", path: "/v1/infer", body });
      const first = await fetch(`${url}/v1/infer`, { method: "POST", body, headers });
      expect(first.status).toBe(200);
      const replay = await fetch(`${url}/v1/infer`, { method: "POST", body, headers });
      expect(replay.status).toBe(401);
      expect((await errorOf(replay)).code).toBe("replayed_nonce");
    });
  });

  describe("bad inputs", () => {
    it("400 for a body that is not JSON", async () => {
      const res = await signedInfer(url, null, { raw: "{not json" });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: { type: "invalid_request_error", code: "invalid_json" },
      });
    });

    it("400 naming the parameter for schema violations", async () => {
      for (const [field, value] of [
        ["steps", 0],
        ["steps", 51],
        ["guidance_scale", -1],
        ["seed", -3],
        ["output_format", "gif"],
        ["width", 64.5],
      ] as const) {
        const res = await signedInfer(url, inferBody({ [field]: value }));
        expect(res.status, field).toBe(400);
        expect((await errorOf(res)).param).toBe(field);
      }
    });

    it("422 for sizes the model cannot make", async () => {
      const res = await signedInfer(url, inferBody({ width: 100 }));
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ error: { param: "width", code: "unsupported_value" } });
      const big = await signedInfer(url, inferBody({ height: 4096 }));
      expect(big.status).toBe(422);
    });

    it("504 when the deadline has already passed", async () => {
      const res = await signedInfer(url, inferBody({ deadline_ms: Date.now() - 1 }));
      expect(res.status).toBe(504);
      expect((await errorOf(res)).code).toBe("deadline_exceeded");
    });

    it("405 with Allow for other methods on /v1/infer", async () => {
      const res = await fetch(`${url}/v1/infer`);
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(await errorOf(res)).toMatchObject({ code: "method_not_allowed" });
    });

    it("404 envelope for unknown routes", async () => {
      const res = await fetch(`${url}/nope`);
      expect(res.status).toBe(404);
      expect((await errorOf(res)).type).toBe("not_found_error");
    });
  });

  it("exposes Prometheus metrics", async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^zi_queue_depth 0$/m);
    expect(text).toMatch(/^zi_ready 1$/m);
    expect(text).toMatch(/^zi_images_total\{format="png"\} \d+$/m);
    expect(text).toMatch(/^zi_stage_seconds_count\{stage="step"\} \d+$/m);
    expect(text).toMatch(/^zi_batch_size_bucket\{le="1"\} \d+$/m);
    expect(text).toMatch(/^zi_errors_total\{status="401",code="bad_signature"\} \d+$/m);
    expect(text).toMatch(/^zi_process_resident_memory_bytes \d+/m);
  });
});

describe("batching, queue limits and deadlines", () => {
  it("batches compatible requests into one run with results equal to unbatched ones", async () => {
    const { fn, url } = await startTestServer({ maxBatch: 3, maxWaitMs: 60_000 });
    try {
      await fn.ready;
      const bodies = [
        inferBody({ seed: 1, prompt: "a lighthouse" }),
        inferBody({ seed: 2, prompt: "a short prompt" }),
        inferBody({
          seed: 3,
          prompt: "a much longer prompt about mountains, rivers and a small red boat at dawn",
        }),
      ];
      // Exactly maxBatch compatible requests: dispatched together once the third arrives.
      const batched = await Promise.all(bodies.map((b) => signedInfer(url, b)));
      for (const r of batched) {
        expect(r.status).toBe(200);
        expect(r.headers.get("x-zi-batch-size")).toBe("3");
      }
      const batchedPixels = await Promise.all(batched.map(pixels));
      await fn.shutdown();

      const single = await startTestServer({ maxBatch: 1 });
      try {
        await single.fn.ready;
        for (const [i, b] of bodies.entries()) {
          const r = await signedInfer(single.url, b);
          expect(r.headers.get("x-zi-batch-size")).toBe("1");
          const alone = await pixels(r);
          let maxDiff = 0;
          let differing = 0;
          for (let k = 0; k < alone.length; k++) {
            const d = Math.abs(alone[k] - batchedPixels[i][k]);
            maxDiff = Math.max(maxDiff, d);
            if (d) differing++;
          }
          expect(maxDiff).toBeLessThanOrEqual(1);
          expect(differing / alone.length).toBeLessThanOrEqual(0.005);
        }
      } finally {
        await single.fn.shutdown();
      }
    } finally {
      await fn.shutdown();
    }
  });

  it("503 + Retry-After when the queue is full; a queued client that leaves frees its slot uncomputed", async () => {
    // maxBatch 2 with a long wait keeps a lone request queued, so the queue is deterministically full.
    const { fn, url } = await startTestServer({ maxBatch: 2, maxWaitMs: 60_000, maxQueue: 1 });
    try {
      await fn.ready;
      const leaving = new AbortController();
      const first = signedInfer(url, inferBody({ seed: 10 }), { signal: leaving.signal }).catch(
        (e: Error) => e,
      );
      await waitFor(() => fn.batcher.depth === 1);
      const full = await signedInfer(url, inferBody({ seed: 11 }));
      expect(full.status).toBe(503);
      expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await full.json()).toMatchObject({ error: { type: "service_unavailable", code: "queue_full" } });
      leaving.abort();
      expect(await first).toBeInstanceOf(Error);
      await waitFor(() => fn.batcher.depth === 0);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^zi_batch_size_count 0$/m); // nothing was computed
    } finally {
      await fn.shutdown();
    }
  });

  it("504 when the deadline passes while queued (dropped before compute)", async () => {
    const { fn, url } = await startTestServer({ maxBatch: 2, maxWaitMs: 400 });
    try {
      await fn.ready;
      const res = await signedInfer(url, inferBody({ deadline_ms: Date.now() + 50 }));
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({ error: { code: "deadline_exceeded" } });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^zi_batch_size_count 0$/m);
    } finally {
      await fn.shutdown();
    }
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

async function errorOf(res: Response): Promise<{ type: string; code: string | null; param: string | null }> {
  return ((await res.json()) as { error: { type: string; code: string | null; param: string | null } }).error;
}

describe("model runtime failure", () => {
  it("answers 500 with the envelope (no hang) when the worker dies mid-request, then reports not alive", async () => {
    const { fn, url } = await startTestServer({ maxBatch: 1 });
    try {
      await fn.ready;
      const pending = signedInfer(url, inferBody({ steps: 20, width: 256, height: 256 }));
      while (!fn.batcher.running) await new Promise((r) => setTimeout(r, 5));
      await fn.engine.close(); // the worker goes away while computing
      const res = await pending;
      expect(res.status).toBe(500);
      expect(await errorOf(res)).toMatchObject({ type: "server_error", code: "model_failure" });
      expect((await fetch(`${url}/healthz`)).status).toBe(503);
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      const after = await signedInfer(url, inferBody());
      expect(after.status).toBe(503);
    } finally {
      await fn.shutdown();
    }
  });
});

describe("draining", () => {
  it("readiness turns 503 (draining) and new work is refused while in-flight work still completes", async () => {
    const { fn, url } = await startTestServer({ maxBatch: 1 });
    await fn.ready;
    const inFlight = signedInfer(url, inferBody({ steps: 20, width: 256, height: 256 }));
    while (!fn.batcher.running) await new Promise((r) => setTimeout(r, 5));
    const stopped = fn.shutdown();
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "draining" });
    const refused = await signedInfer(url, inferBody());
    expect(refused.status).toBe(503);
    expect(await errorOf(refused)).toMatchObject({ code: "draining" });
    expect((await inFlight).status).toBe(200);
    await stopped;
  });
});
