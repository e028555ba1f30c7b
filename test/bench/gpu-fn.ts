/**
 * GPU-function benchmarks (docs/benchmarks.md, "GPU function"). Three modes:
 *
 *   npx tsx test/bench/gpu-fn.ts stages --model models/medium [--width 256 --height 256 --steps 8 --iters 3]
 *     in-process pipeline (the CLI's code path): median per-stage times and end-to-end / sum(session.run)
 *   npx tsx test/bench/gpu-fn.ts throughput --model models/tiny [--requests 48 --width 64 --height 64 --steps 8]
 *     `npm run gpu-fn` in a child process; signed HTTP requests at concurrency 1, 4, 8, batching off
 *     (MAX_BATCH=1) vs on (MAX_BATCH=8, MAX_WAIT_MS=20): images/s, p50 latency, HTTP overhead at concurrency 1
 *   npx tsx test/bench/gpu-fn.ts rss --model models/tiny [--requests 1000]
 *     the server's RSS (its /metrics) after 10 and after N sequential requests
 *
 * Prints Markdown table rows. The server's CPU threads and this client share the machine.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { type GenerateSummary, generate, parseGenerateArgs } from "../../gpu-fn/cli/generate";
import { signRequest } from "../../shared/hmac";
import { INFER_PATH } from "../../shared/protocol";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: "string", default: "models/tiny" },
    width: { type: "string", default: "64" },
    height: { type: "string", default: "64" },
    steps: { type: "string", default: "8" },
    iters: { type: "string", default: "3" },
    requests: { type: "string" },
  },
});
const width = Number(values.width);
const height = Number(values.height);
const steps = Number(values.steps);
const SECRET = "bench-secret-0123456789";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number) => ms.toFixed(1);

async function stages(): Promise<void> {
  const runs: GenerateSummary["ms"][] = [];
  const iters = Number(values.iters);
  for (let i = 0; i <= iters; i++) {
    const args = parseGenerateArgs([
      "--model",
      values.model!,
      "--prompt",
      `a lighthouse on a cliff at dusk, run ${i}`,
      "--seed",
      String(i),
      "--width",
      String(width),
      "--height",
      String(height),
      "--steps",
      String(steps),
      "--provider",
      "cpu",
      "--out",
      "/tmp/zi-bench-stages.png",
    ]);
    const s = await generate(args);
    if (i > 0) runs.push(s.ms); // run 0 warms up
  }
  const stepMed = runs[0].steps.map((_, k) => median(runs.map((r) => r.steps[k])));
  console.log(`| stage (${values.model}, ${width}x${height}, ${steps} steps, median of ${iters}) | ms |`);
  console.log("|---|---|");
  console.log(`| tokenize | ${fmt(median(runs.map((r) => r.tokenize)))} |`);
  console.log(`| text encoder | ${fmt(median(runs.map((r) => r.textEncoder)))} |`);
  for (const [k, ms] of stepMed.entries()) console.log(`| step ${k + 1} | ${fmt(ms)} |`);
  console.log(`| VAE decode | ${fmt(median(runs.map((r) => r.decode)))} |`);
  console.log(`| postprocess (uint8) | ${fmt(median(runs.map((r) => r.postprocess)))} |`);
  console.log(`| image encode (PNG) | ${fmt(median(runs.map((r) => r.imageEncode)))} |`);
  console.log(`| end to end | ${fmt(median(runs.map((r) => r.endToEnd)))} |`);
  console.log(`| sum of session.run | ${fmt(median(runs.map((r) => r.sessionRun)))} |`);
  console.log(
    `| overhead (end to end / session.run) | ${median(runs.map((r) => r.endToEnd / r.sessionRun)).toFixed(3)} |`,
  );
}

interface Server {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", "gpu-fn/server/main.ts"], {
    env: {
      ...process.env,
      MODEL_DIR: values.model!,
      PORT: "0",
      EXECUTION_PROVIDER: "cpu",
      GPU_HMAC_SECRET: SECRET,
      WARMUP_SIZE: String(width),
      MAX_QUEUE: "64",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  while (!out.includes("state: ready")) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `http://127.0.0.1:${/listening on [^\s]*:(\d+) /.exec(out)?.[1]}`;
  return {
    child,
    url,
    async stop() {
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

let counter = 0;
async function infer(url: string): Promise<{ ms: number; sessionRun: number; batch: number }> {
  const n = counter++;
  const body = JSON.stringify({
    request_id: `bench-${n}`,
    prompt: `a lighthouse on a cliff at dusk, variation ${n}`,
    width,
    height,
    steps,
    guidance_scale: 0,
    seed: n,
    output_format: "png",
  });
  const t0 = performance.now();
  const headers = await signRequest({ secret: SECRET, method: "POST", path: INFER_PATH, body });
  const res = await fetch(url + INFER_PATH, { method: "POST", body, headers });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  const timing = res.headers.get("server-timing") ?? "";
  const sessionRun = Number(/session_run;dur=([\d.]+)/.exec(timing)?.[1]);
  return { ms, sessionRun, batch: Number(res.headers.get("x-zi-batch-size")) };
}

async function load(url: string, total: number, concurrency: number) {
  const latencies: number[] = [];
  const batches: number[] = [];
  const overheads: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const r = await infer(url);
        latencies.push(r.ms);
        batches.push(r.batch);
        overheads.push(r.ms / r.sessionRun);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    imagesPerSecond: total / seconds,
    p50: median(latencies),
    meanBatch: batches.reduce((a, b) => a + b, 0) / batches.length,
    overhead: median(overheads),
  };
}

async function throughput(): Promise<void> {
  const total = Number(values.requests ?? 48);
  console.log(
    `| ${values.model}, ${width}x${height}, ${steps} steps, ${total} requests | concurrency | images/s | p50 latency ms | mean batch | HTTP end to end / session.run |`,
  );
  console.log("|---|---|---|---|---|---|");
  for (const [label, env] of [
    ["batching off (MAX_BATCH=1)", { MAX_BATCH: "1", MAX_WAIT_MS: "0" }],
    ["batching on (MAX_BATCH=8, MAX_WAIT_MS=20)", { MAX_BATCH: "8", MAX_WAIT_MS: "20" }],
  ] as const) {
    const server = await startServer(env);
    try {
      await load(server.url, 4, 1); // warm the HTTP path
      for (const c of [1, 4, 8]) {
        const r = await load(server.url, total, c);
        console.log(
          `| ${label} | ${c} | ${r.imagesPerSecond.toFixed(2)} | ${fmt(r.p50)} | ${r.meanBatch.toFixed(2)} | ${r.overhead.toFixed(3)} |`,
        );
      }
    } finally {
      await server.stop();
    }
  }
}

async function rssOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^zi_process_resident_memory_bytes (\d+)/m.exec(text)?.[1]);
}

async function rss(): Promise<void> {
  const total = Number(values.requests ?? 1000);
  const server = await startServer({ MAX_BATCH: "1" });
  try {
    for (let i = 0; i < 10; i++) await infer(server.url);
    const after10 = await rssOf(server.url);
    for (let i = 10; i < total; i++) await infer(server.url);
    const afterN = await rssOf(server.url);
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(
      `| ${values.model}, ${width}x${height}, ${steps} steps | RSS after 10 | RSS after ${total} | growth |`,
    );
    console.log("|---|---|---|---|");
    console.log(
      `| server process | ${mb(after10)} MiB | ${mb(afterN)} MiB | ${(((afterN - after10) / after10) * 100).toFixed(1)} % |`,
    );
  } finally {
    await server.stop();
  }
}

const mode = positionals[0];
const modes: Record<string, () => Promise<void>> = { stages, throughput, rss };
if (!mode || !modes[mode]) {
  console.error(
    "usage: npx tsx test/bench/gpu-fn.ts stages|throughput|rss [--model dir] [--width --height --steps]",
  );
  process.exit(1);
}
await modes[mode]();
