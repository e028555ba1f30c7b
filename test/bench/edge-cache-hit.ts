/**
 * Cache-hit benchmark of the edge under `wrangler dev` against a bare Worker serving the same R2 object.
 *
 *   npm run bench:edge   (env: BENCH_CONNECTIONS=10, BENCH_REQUESTS=2000, BENCH_MAX_SECONDS=30, BENCH_ROUNDS=3)
 *
 * 1. Bundles the edge without extensions (test/bench/edge-workers/edge-core.ts: no API keys or rate limits)
 *    with `wrangler deploy --dry-run`, starts a small HMAC-verifying fake GPU function (Node) and
 *    `wrangler dev` serving that bundle on loopback with a fresh local state folder; one POST generates and
 *    caches a real encoded image (sharp, 512x512 JPEG).
 * 2. Starts the bare worker (test/bench/edge-workers/bare.ts) on the same state folder.
 * 3. autocannon, in interleaved rounds: bare GET /{key}; edge GET /v1/images/{key}.jpeg; edge POST
 *    /v1/images/generations hits with response_format url and b64_json. Each run is bounded by a request
 *    count and a time limit. Prints medians as a Markdown table for docs/benchmarks.md.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type autocannon from "autocannon";
import { freePort } from "../../infra/upstash-bridge/redis-server";
import { startFakeGpu } from "./lib/fake-gpu";
import { measure, medianRows, type Row } from "./lib/measure";

const REPO = join(import.meta.dirname, "../..");
const WRANGLER = join(REPO, "node_modules/wrangler/bin/wrangler.js");
const SECRET = "bench-hmac-secret";
const REVISION = "bench-rev";
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BOUNDS = { connections: CONNECTIONS, maxSeconds: MAX_SECONDS, warmup: 200, requests: REQUESTS };
const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/**
 * Bundles the edge once (`wrangler deploy --dry-run`) and writes a config that serves that bundle, so
 * `wrangler dev` measures a fixed build: it does not rebuild when files in the checkout change meanwhile.
 */
async function bundleEdge(dir: string): Promise<string> {
  const entry = "test/bench/edge-workers/edge-core.ts";
  const build = spawn(process.execPath, [WRANGLER, "deploy", "--dry-run", "--outdir", dir, entry], {
    cwd: REPO,
    env: { ...process.env, ...OFFLINE_ENV },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  build.stdout?.on("data", (d) => {
    output += d;
  });
  build.stderr?.on("data", (d) => {
    output += d;
  });
  const code = await new Promise<number | null>((resolve) => build.once("exit", resolve));
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${output}`);
  const config = (await readFile(join(REPO, "wrangler.toml"), "utf8")).replace(
    /^main = .*$/m,
    // wrangler names the bundle after the entry file.
    'main = "edge-core.js"\nno_bundle = true',
  );
  const path = join(dir, "wrangler.toml");
  await writeFile(path, config);
  return path;
}

/** `wrangler dev` in its own process group (its workerd children die with the group). */
async function startWrangler(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      WRANGLER,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--show-interactive-dev-session=false",
      ...args,
    ],
    { cwd: REPO, env: { ...process.env, ...OFFLINE_ENV }, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const started = Date.now();
  while (Date.now() - started < 60_000) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  stopGroup(child);
  throw new Error(`wrangler dev did not answer within 60 s:\n${output}`);
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(-child.pid, "SIGTERM");
  const killer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), 5000);
  return exited.finally(() => clearTimeout(killer));
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), "zimage-bench-"));
  const gpu = await startFakeGpu({ secret: SECRET, revision: REVISION, jpeg: { quality: 90 } });
  const servers: ChildProcess[] = [];
  const runs = new Map<string, Row[]>();
  try {
    const edgeConfig = await bundleEdge(join(state, "edge-bundle"));
    const edgePort = await freePort();
    servers.push(
      await startWrangler(
        [
          "--config",
          edgeConfig,
          "--persist-to",
          state,
          "--inspector-port",
          String(await freePort()),
          "--var",
          `GPU_BACKENDS:${gpu.url}`,
          "--var",
          `GPU_HMAC_SECRET:${SECRET}`,
          "--var",
          `MODEL_REVISION:${REVISION}`,
        ],
        edgePort,
      ),
    );
    const edgeUrl = `http://127.0.0.1:${edgePort}`;
    const body = JSON.stringify({
      prompt: "benchmark lighthouse",
      size: "512x512",
      seed: 1,
      output_format: "jpeg",
    });
    const post = { method: "POST" as const, headers: { "content-type": "application/json" } };
    const first = await fetch(`${edgeUrl}/v1/images/generations`, { ...post, body });
    const generated = (await first.json()) as { data: { url: string }[] };
    if (first.status !== 200 || first.headers.get("x-cache") !== "MISS") {
      throw new Error(`seeding request failed: ${first.status} ${JSON.stringify(generated)}`);
    }
    const imageUrl = generated.data[0].url;
    const key = imageUrl.split("/").pop()!.split(".")[0];
    const size = (await (await fetch(imageUrl)).arrayBuffer()).byteLength;
    console.log(`cached ${key}.jpeg (${size} bytes) after ${gpu.calls()} GPU call(s)`);

    // The bare worker reads the same local R2 state (read-only from here on).
    const barePort = await freePort();
    servers.push(
      await startWrangler(
        [
          "--config",
          "test/bench/edge-workers/bare.wrangler.toml",
          "--persist-to",
          state,
          "--inspector-port",
          String(await freePort()),
        ],
        barePort,
      ),
    );

    const b64 = JSON.stringify({ ...JSON.parse(body), response_format: "b64_json" });
    const generations = `${edgeUrl}/v1/images/generations`;
    const targets: { name: string; opts: autocannon.Options }[] = [
      { name: "bare worker GET /{key} (baseline)", opts: { url: `http://127.0.0.1:${barePort}/${key}` } },
      { name: "edge GET /v1/images/{key}.jpeg", opts: { url: imageUrl } },
      { name: "edge POST generations (hit, url)", opts: { url: generations, ...post, body } },
      { name: "edge POST generations (hit, b64_json)", opts: { url: generations, ...post, body: b64 } },
    ];
    // Rounds interleave the targets so slow drift on a shared machine hits all of them alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        const row = await measure(target.name, target.opts, BOUNDS);
        if (row.non2xx > 0)
          throw new Error(`${row.name}: ${row.non2xx} failed requests; numbers would be meaningless`);
        runs.set(target.name, [...(runs.get(target.name) ?? []), row]);
        console.log(
          `round ${round + 1}: ${row.name}: mean ${row.mean.toFixed(2)} ms, p50 ${row.p50} ms, ` +
            `p99 ${row.p99} ms, ${row.rps.toFixed(0)} req/s`,
        );
      }
    }
    if (gpu.calls() !== 1) throw new Error(`expected only the seeding GPU call, saw ${gpu.calls()}`);
  } finally {
    for (const server of servers) await stopGroup(server);
    gpu.server.close();
    await rm(state, { recursive: true, force: true });
  }

  const rows = medianRows(runs);
  const base = rows[0];
  console.log(
    `\nmedians of ${ROUNDS} interleaved rounds; connections=${CONNECTIONS}, ${REQUESTS} requests per run ` +
      `(after 200 warm-up), node ${process.version}\n`,
  );
  console.log("| path | mean ms | p50 ms | p99 ms | req/s | mean vs bare | p50 vs bare | req/s vs bare |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const delta = (x: number, y: number) =>
      r === base ? "-" : `${x - y >= 0 ? "+" : ""}${(x - y).toFixed(2)} ms`;
    const drps = r === base ? "-" : `${((100 * r.rps) / base.rps).toFixed(0)}%`;
    console.log(
      `| ${r.name} | ${r.mean.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.rps.toFixed(0)} | ` +
        `${delta(r.mean, base.mean)} | ${delta(r.p50, base.p50)} | ${drps} |`,
    );
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
