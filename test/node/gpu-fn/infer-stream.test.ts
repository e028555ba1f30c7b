/**
 * POST /v1/infer/stream on the real GPU function (tiny model, ORT CPU, worker thread): the event sequence, previews
 * decoded by the VAE, identical final bytes to the plain route, batching, cancellation, deadlines and refusals.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuFnHandle } from "../../../gpu-fn/server/start";
import { signRequest } from "../../../shared/hmac";
import { INFER_PATH, INFER_STREAM_PATH, type InferEvent } from "../../../shared/protocol";
import { inferBody, SECRET, signedInfer, startTestServer } from "./server-helpers";

async function signedStream(
  url: string,
  body: unknown,
  opts: { signal?: AbortSignal; signPath?: string } = {},
): Promise<Response> {
  const text = JSON.stringify(body);
  const signed = await signRequest({
    secret: SECRET,
    method: "POST",
    path: opts.signPath ?? INFER_STREAM_PATH,
    body: text,
  });
  return fetch(url + INFER_STREAM_PATH, {
    method: "POST",
    body: text,
    headers: { "content-type": "application/json", ...signed },
    signal: opts.signal,
  });
}

async function events(res: Response): Promise<InferEvent[]> {
  const text = await res.text();
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as InferEvent);
}

const waitFor = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe("POST /v1/infer/stream", () => {
  let fn: GpuFnHandle;
  let url: string;

  beforeAll(async () => {
    ({ fn, url } = await startTestServer({ maxBatch: 1, heartbeatMs: 50 }));
    await fn.ready;
  });
  afterAll(async () => {
    await fn?.shutdown();
  });

  it("streams queued, started, every step, k previews at evenly spaced steps, then the same image as /v1/infer", async () => {
    const body = inferBody({ seed: 41, steps: 6, width: 64, height: 64 });
    const res = await signedStream(url, { ...body, previews: 2 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const list = await events(res);
    const kinds = list.filter((e) => e.type !== "heartbeat").map((e) => e.type);
    expect(kinds[0]).toBe("queued");
    expect(kinds[1]).toBe("started");
    expect(kinds.at(-1)).toBe("image");
    expect(list[0]).toMatchObject({ type: "queued", heartbeat_ms: 50 });
    const steps = list.flatMap((e) => (e.type === "step" ? [[e.step, e.total]] : []));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6].map((s) => [s, 6]));
    const previews = list.flatMap((e) => (e.type === "preview" ? [e] : []));
    // 2 previews over 6 steps: after steps 2 and 4, each after its step event.
    expect(previews.map((p) => [p.index, p.step])).toEqual([
      [0, 2],
      [1, 4],
    ]);
    for (const p of previews) {
      const at = list.indexOf(p);
      expect(list.slice(0, at).some((e) => e.type === "step" && e.step === p.step)).toBe(true);
      const meta = await sharp(Buffer.from(p.b64, "base64")).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["png", 64, 64]);
    }
    // Previews of a denoising run differ from each other and from the final image.
    const final = list.at(-1) as Extract<InferEvent, { type: "image" }>;
    expect(previews[0].b64).not.toBe(previews[1].b64);
    expect(final).toMatchObject({
      content_type: "image/png",
      seed: 41,
      batch_size: 1,
      prompt_truncated: false,
    });
    expect(final.server_timing).toMatch(/preview;dur=\d/);

    const plain = await signedInfer(url, { ...body, request_id: "plain" });
    expect(Buffer.from(await plain.arrayBuffer()).equals(Buffer.from(final.b64, "base64"))).toBe(true);
  });

  it("makes previews at reduced resolution for large images (VAE at 1/4 of the latent side)", async () => {
    const res = await signedStream(url, {
      ...inferBody({ seed: 5, steps: 2, width: 512, height: 256 }),
      previews: 1,
    });
    const list = await events(res);
    const preview = list.find((e) => e.type === "preview");
    expect(preview).toMatchObject({ width: 256, height: 128, step: 1 });
  });

  it("refuses a signature made for another path (the audience is the route)", async () => {
    const res = await signedStream(url, inferBody(), { signPath: INFER_PATH });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "bad_signature" } });
  });

  it("answers 400 before streaming for a bad previews value", async () => {
    const res = await signedStream(url, { ...inferBody(), previews: 4 });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: "previews" } });
  });

  it("ends with a 504 error event when the deadline has passed", async () => {
    const list = await events(await signedStream(url, inferBody({ deadline_ms: Date.now() - 1 })));
    expect(list.at(-1)).toMatchObject({ type: "error", status: 504, error: { code: "deadline_exceeded" } });
  });
});

describe("streaming with batching, queueing and cancellation", () => {
  it("still batches streamed requests; each gets its own previews and image", async () => {
    const { fn, url } = await startTestServer({ maxBatch: 2, maxWaitMs: 60_000, heartbeatMs: 50 });
    try {
      await fn.ready;
      const [a, b] = await Promise.all(
        [1, 2].map(async (seed) =>
          events(await signedStream(url, { ...inferBody({ seed, steps: 3 }), previews: 1 })),
        ),
      );
      for (const list of [a, b]) {
        expect(list.find((e) => e.type === "started")).toMatchObject({ batch_size: 2 });
        expect(list.filter((e) => e.type === "preview")).toHaveLength(1);
        expect(list.at(-1)).toMatchObject({ type: "image", batch_size: 2 });
      }
      const img = (l: InferEvent[]) => (l.at(-1) as Extract<InferEvent, { type: "image" }>).b64;
      expect(img(a)).not.toBe(img(b));
    } finally {
      await fn.shutdown();
    }
  });

  it("reports the queue position in heartbeats, 503s when full, and a client that leaves frees its slot uncomputed", async () => {
    const { fn, url } = await startTestServer({
      maxBatch: 2,
      maxWaitMs: 60_000,
      maxQueue: 1,
      heartbeatMs: 50,
    });
    try {
      await fn.ready;
      const leaving = new AbortController();
      const res = await signedStream(url, inferBody({ seed: 10 }), { signal: leaving.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = JSON.parse(new TextDecoder().decode((await reader.read()).value).split("\n")[0]);
      expect(first).toMatchObject({ type: "queued", position: 1 });
      const full = await signedStream(url, inferBody({ seed: 11 }));
      expect(full.status).toBe(503);
      expect(await full.json()).toMatchObject({ error: { code: "queue_full" } });
      leaving.abort();
      await waitFor(() => fn.batcher.depth === 0);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^zi_batch_size_count 0$/m); // nothing was computed
    } finally {
      await fn.shutdown();
    }
  });
});
