/**
 * Added latency of the accounts layer (API-key auth + per-key rate limit + daily quota + D1 ledger write) on
 * the cache-hit path, against the same path with the layer off.
 *
 *   npm run bench:accounts   (env: BENCH_CONNECTIONS=10, BENCH_REQUESTS=2000, BENCH_MAX_SECONDS=30, BENCH_ROUNDS=3)
 *
 * 1. Starts redis-server + the Upstash REST bridge, a minimal HMAC-verifying fake GPU (Node), applies the D1
 *    migrations to a fresh local state folder and runs `wrangler dev` with test/edge/accounts/bench-worker.ts:
 *    `/on/...` is the edge with the accounts extension, `/off/...` the same app without it (one isolate).
 * 2. Creates a plan with limits far above the load, an account and a key (admin API); one POST caches a
 *    512x512 JPEG.
 * 3. autocannon, interleaved rounds: POST /v1/images/generations cache hits (response_format url) on `off`
 *    and on `on` (Authorization header; every request is rate-limited in Redis and writes a ledger row).
 *    Prints medians as a Markdown table and checks the ledger holds one row per measured `on` request.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminClient } from "../../infra/dev/admin-client";
import { launch, type ManagedProcess, runToCompletion } from "../../infra/dev/processes";
import { waitForHttp } from "../../infra/dev/readiness";
import { freePort, startRedisServer } from "../../infra/upstash-bridge/redis-server";
import { startBridge } from "../../infra/upstash-bridge/server";
import { startFakeGpu } from "./lib/fake-gpu";
import { measure, medianRows, type Row } from "./lib/measure";

const REPO = join(import.meta.dirname, "../..");
const WRANGLER = join(REPO, "node_modules/wrangler/bin/wrangler.js");
const CONFIG = "test/bench/accounts-overhead.wrangler.toml";
const SECRET = "bench-hmac-secret";
const REVISION = "bench-rev";
const ADMIN_TOKEN = "bench-admin-token";
const REDIS_TOKEN = "bench-redis-token";
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = 200;
const BOUNDS = { connections: CONNECTIONS, maxSeconds: MAX_SECONDS, warmup: WARMUP, requests: REQUESTS };
const ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), "zimage-bench-accounts-"));
  const redis = await startRedisServer();
  const bridge = await startBridge({ redisUrl: redis.url, token: REDIS_TOKEN });
  const gpu = await startFakeGpu({ secret: SECRET, revision: REVISION });
  let edge: ManagedProcess | undefined;
  const runs = new Map<string, Row[]>();
  let onRequests = 0;
  try {
    const options = { cwd: REPO, env: ENV };
    await runToCompletion(
      "d1 migrations",
      process.execPath,
      [WRANGLER, "d1", "migrations", "apply", "zimage", "--local", "--persist-to", state, "-c", CONFIG],
      options,
    );
    const port = await freePort();
    const vars = {
      GPU_BACKENDS: gpu.url,
      GPU_HMAC_SECRET: SECRET,
      MODEL_REVISION: REVISION,
      ADMIN_TOKEN,
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: REDIS_TOKEN,
    };
    edge = launch(
      "wrangler dev",
      process.execPath,
      [
        WRANGLER,
        "dev",
        "-c",
        CONFIG,
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(await freePort()),
        "--persist-to",
        state,
        "--show-interactive-dev-session=false",
        ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ],
      options,
    );
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/off/v1/models`, { what: "bench worker", timeoutMs: 90_000, process: edge });

    const admin = new AdminClient(`${base}/on`, ADMIN_TOKEN);
    await admin.putPlan("bench", {
      name: "Benchmark",
      requests_per_minute: 1_000_000,
      images_per_day: 100_000_000,
      max_pixels: 4_194_304,
      image_base_micros: 1000,
      megapixel_step_micros: 500,
      cache_hit_micros: 200,
    });
    const account = await admin.createAccount("bench", "bench");
    const key = await admin.issueKey(account.id, "bench");

    const body = JSON.stringify({
      prompt: "benchmark lighthouse",
      size: "512x512",
      seed: 1,
      output_format: "jpeg",
    });
    const json = { "content-type": "application/json" };
    const seed = await fetch(`${base}/off/v1/images/generations`, { method: "POST", headers: json, body });
    if (seed.status !== 200 || seed.headers.get("x-cache") !== "MISS") {
      throw new Error(`seeding request failed: ${seed.status} ${await seed.text()}`);
    }
    const targets = [
      { name: "POST generations, cache hit, accounts off", path: "/off", headers: json },
      {
        name: "POST generations, cache hit, accounts on",
        path: "/on",
        headers: { ...json, authorization: `Bearer ${key.secret}` },
      },
    ];
    // Interleaved rounds so slow drift on a shared machine affects both variants alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        const row = await measure(
          target.name,
          {
            url: `${base}${target.path}/v1/images/generations`,
            method: "POST",
            headers: target.headers,
            body,
          },
          BOUNDS,
        );
        if (target.path === "/on") onRequests += WARMUP + row.requests;
        runs.set(target.name, [...(runs.get(target.name) ?? []), row]);
        console.log(
          `round ${round + 1}: ${row.name}: p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.rps.toFixed(0)} req/s`,
        );
      }
    }
    const usage = (await admin.accountUsage(account.id)) as { total: { images: number; cache_hits: number } };
    console.log(
      `ledger: ${usage.total.images} rows (${usage.total.cache_hits} cache hits) for ${onRequests} requests sent to /on`,
    );
    if (gpu.calls() !== 1) throw new Error(`expected only the seeding GPU call, saw ${gpu.calls()}`);
  } finally {
    await edge?.stop();
    gpu.server.close();
    await bridge.close();
    await redis.stop();
    await rm(state, { recursive: true, force: true });
  }

  const rows = medianRows(runs);
  const [off, on] = rows;
  console.log(
    `\nmedians of ${ROUNDS} interleaved rounds; connections=${CONNECTIONS}, ${REQUESTS} requests per run ` +
      `(after ${WARMUP} warm-up), node ${process.version}\n`,
  );
  console.log("| path | p50 ms | p99 ms | req/s | non-2xx+errors |");
  console.log("|---|---|---|---|---|");
  for (const r of rows)
    console.log(`| ${r.name} | ${r.p50} | ${r.p99} | ${r.rps.toFixed(0)} | ${r.non2xx} |`);
  console.log(
    `| added by accounts | ${(on.p50 - off.p50).toFixed(1)} | ${(on.p99 - off.p99).toFixed(1)} | ` +
      `${((100 * on.rps) / off.rps - 100).toFixed(0)}% | |`,
  );
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
