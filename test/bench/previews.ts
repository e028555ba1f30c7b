/**
 * Preview cost and time-to-first-event of the GPU function's streaming inference call (docs/benchmarks.md,
 * "Streaming, previews"). Starts the GPU function in-process on the given model (CPU), then for each size runs
 * `--iters` requests of each kind, sequentially, and prints median rows:
 *   plain /v1/infer (time to the image), stream with previews 0 and with previews 3 (time to first event, first
 *   step, first preview, image; the preview stage of server-timing; its share of the generation).
 *
 *   npx tsx test/bench/previews.ts --model models/medium [--sizes 256,512 --steps 8 --iters 3]
 */
import { parseArgs } from "node:util";
import { startGpuFn } from "../../gpu-fn/server/start";
import { signRequest } from "../../shared/hmac";
import { INFER_PATH, INFER_STREAM_PATH, type InferEvent } from "../../shared/protocol";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/medium" },
    sizes: { type: "string", default: "256,512" },
    steps: { type: "string", default: "8" },
    iters: { type: "string", default: "3" },
  },
});
const SECRET = "bench-secret-0123456789";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stage = (timing: string, name: string) =>
  Number(new RegExp(`${name};dur=([\\d.]+)`).exec(timing)?.[1] ?? NaN);

const fn = await startGpuFn(
  {
    modelDir: values.model!,
    port: 0,
    host: "127.0.0.1",
    executionProvider: "cpu",
    hmacSecret: SECRET,
    maxBatch: 1,
    maxWaitMs: 0,
    maxQueue: 8,
    maxSide: 2048,
    warmupSize: 64,
    drainTimeoutMs: 10_000,
    hmacMaxSkewMs: 300_000,
    audiences: [],
    metricsToken: null,
  },
  () => {},
);
await fn.ready;
const url = `http://127.0.0.1:${fn.port}`;

async function post(path: string, body: object): Promise<{ res: Response; t0: number }> {
  const text = JSON.stringify(body);
  const headers = await signRequest({ secret: SECRET, method: "POST", path, body: text });
  const t0 = performance.now();
  const res = await fetch(url + path, { method: "POST", body: text, headers });
  return { res, t0 };
}

async function stream(body: object) {
  const { res, t0 } = await post(INFER_STREAM_PATH, body);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const at: Record<string, number> = {};
  let timing = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const e = JSON.parse(buf.slice(0, nl)) as InferEvent;
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
      const t = performance.now() - t0;
      at.first ??= t;
      at[e.type] ??= t;
      if (e.type === "image") timing = e.server_timing;
      if (e.type === "error") throw new Error(e.error.message);
    }
  }
  return { first: at.first, step: at.step, preview: at.preview, image: at.image, timing };
}

console.log(
  "| size | steps | kind | first event ms | first step ms | first preview ms | image ms | preview stage ms | preview % |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
const steps = Number(values.steps);
for (const side of values.sizes!.split(",").map(Number)) {
  const base = {
    prompt: "a lighthouse on a cliff at dusk",
    width: side,
    height: side,
    steps,
    guidance_scale: 0,
    output_format: "png",
  };
  const rows: Record<
    string,
    { first: number[]; step: number[]; preview: number[]; image: number[]; pv: number[]; total: number[] }
  > = {};
  const push = (
    k: string,
    r: { first?: number; step?: number; preview?: number; image?: number; pv?: number; total?: number },
  ) => {
    rows[k] ??= { first: [], step: [], preview: [], image: [], pv: [], total: [] };
    for (const f of ["first", "step", "preview", "image", "pv", "total"] as const)
      if (r[f] !== undefined) rows[k][f].push(r[f]!);
  };
  for (let i = 0; i <= Number(values.iters); i++) {
    const seed = 100 + i;
    const { res, t0 } = await post(INFER_PATH, { ...base, seed, request_id: `plain-${side}-${i}` });
    await res.arrayBuffer();
    const plainMs = performance.now() - t0;
    const s0 = await stream({ ...base, seed, previews: 0, request_id: `s0-${side}-${i}` });
    const s3 = await stream({ ...base, seed, previews: 3, request_id: `s3-${side}-${i}` });
    if (i === 0) continue; // warm-up round for this size
    push("sync /v1/infer", { image: plainMs });
    push("stream, previews 0", {
      first: s0.first,
      step: s0.step,
      image: s0.image,
      total: stage(s0.timing, "total"),
    });
    push("stream, previews 3", {
      first: s3.first,
      step: s3.step,
      preview: s3.preview,
      image: s3.image,
      pv: stage(s3.timing, "preview"),
      total: stage(s3.timing, "total"),
    });
  }
  for (const [kind, r] of Object.entries(rows)) {
    const f = (xs: number[]) => (xs.length ? median(xs).toFixed(1) : "-");
    const pct = r.pv.length ? ((median(r.pv) / median(r.total)) * 100).toFixed(1) : "-";
    const perPreview = r.pv.length ? `${f(r.pv)} (${(median(r.pv) / 3).toFixed(1)}/preview)` : "-";
    console.log(
      `| ${side}x${side} | ${steps} | ${kind} | ${f(r.first)} | ${f(r.step)} | ${f(r.preview)} | ${f(r.image)} | ${perPreview} | ${pct} |`,
    );
  }
}
await fn.shutdown();
