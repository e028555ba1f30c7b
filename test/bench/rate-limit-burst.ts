/**
 * Rate limits under a cold burst and in degraded mode, on the real local stack:
 * `npx tsx test/bench/rate-limit-burst.ts [concurrency=200]`.
 *
 * 1. As the stack's first traffic: `concurrency` concurrent generations on a key whose plan allows 10 requests per
 *    minute, then on one whose daily image quota is 10; distinct and identical bodies. Prints the status counts,
 *    request latency percentiles and how many limiter decisions were unavailable (log lines).
 * 2. Redis dead (redis-server killed): admitted per key per minute for generations and for GET /v1/models.
 * 3. Redis hung (SIGSTOP): the latency of GET /v1/models over 15 s at ~5 requests/s against the healthy baseline.
 * Extra edge vars as JSON in BURST_VARS (e.g. '{"RATE_LIMIT_TIMEOUT_MS":"1000"}').
 */
import { readFileSync } from "node:fs";
import { startE2EStack } from "../e2e/fixture";

const concurrency = Number(process.argv[2] ?? 200);
const stack = await startE2EStack({ vars: JSON.parse(process.env.BURST_VARS ?? "{}") });
const base = {
  name: "bench",
  max_pixels: 1_048_576,
  image_base_micros: 1000,
  megapixel_step_micros: 500,
  cache_hit_micros: 200,
};

interface Result {
  status: number;
  code: string;
  ms: number;
}

async function request(apiKey: string, path: string, body?: unknown): Promise<Result> {
  const start = performance.now();
  const response = await fetch(`${stack.urls.edge}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let code = "";
  if (!response.ok) {
    code = text.startsWith("{")
      ? ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? "")
      : text.slice(0, 30);
  }
  return { status: response.status, code, ms: performance.now() - start };
}

function summary(results: Result[]) {
  const counts: Record<string, number> = {};
  for (const r of results) {
    const label = r.code ? `${r.status} ${r.code}` : String(r.status);
    counts[label] = (counts[label] ?? 0) + 1;
  }
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]);
  return { counts, p50: at(0.5), p99: at(0.99), max: at(1) };
}

const unavailable = () =>
  (readFileSync(stack.logFile, "utf8").match(/rate_limiter_unavailable/g) ?? []).length;

try {
  await stack.admin.putPlan("burst-rpm", { ...base, requests_per_minute: 10, images_per_day: 100_000 });
  await stack.admin.putPlan("burst-quota", { ...base, requests_per_minute: 100_000, images_per_day: 10 });
  for (const [plan, identical] of [
    ["burst-rpm", false],
    ["burst-quota", false],
    ["burst-rpm", true],
    ["burst-quota", true],
  ] as const) {
    const { apiKey } = await stack.newAccount(plan);
    const before = unavailable();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: concurrency }, (_, i) =>
        request(apiKey, "/v1/images/generations", {
          prompt: identical ? `burst ${plan} same` : `burst ${plan} ${i}`,
          size: "64x64",
          seed: 1,
        }),
      ),
    );
    const wall = Math.round(performance.now() - t0);
    console.log(
      JSON.stringify({
        phase: "burst",
        plan,
        identical,
        concurrency,
        ...summary(results),
        wall,
        unavailable: unavailable() - before,
      }),
    );
  }

  // Healthy baseline for the degraded-latency comparison.
  const { apiKey: probeKey } = await stack.newAccount();
  const healthy: Result[] = [];
  for (let i = 0; i < 30; i++) healthy.push(await request(probeKey, "/v1/models"));
  console.log(JSON.stringify({ phase: "healthy GET /v1/models", ...summary(healthy) }));

  await stack.admin.putPlan("dead-rpm", { ...base, requests_per_minute: 10, images_per_day: 100_000 });
  const { apiKey: deadKey } = await stack.newAccount("dead-rpm");
  await stack.redis.kill();
  const deadGenerations: Result[] = [];
  for (let i = 0; i < 20; i++) {
    deadGenerations.push(
      await request(deadKey, "/v1/images/generations", { prompt: `dead ${i}`, size: "64x64" }),
    );
  }
  // A fresh key: the refused generations above counted as requests too.
  const { apiKey: deadKey2 } = await stack.newAccount("dead-rpm");
  const deadModels: Result[] = [];
  for (let i = 0; i < 30; i++) deadModels.push(await request(deadKey2, "/v1/models"));
  console.log(JSON.stringify({ phase: "redis dead: 20 generations", ...summary(deadGenerations) }));
  console.log(
    JSON.stringify({ phase: "redis dead: 30 GET /v1/models, new key (rpm 10)", ...summary(deadModels) }),
  );
  await stack.redis.start();
  await new Promise((resolve) => setTimeout(resolve, 6000)); // cooldown

  const { apiKey: hungKey } = await stack.newAccount();
  stack.redis.signal("SIGSTOP");
  const hung: Result[] = [];
  const t0 = performance.now();
  // 15 s of traffic at ~5 requests per second: the first pays the timeout, then the cooldown, then one probe.
  while (performance.now() - t0 < 15_000) {
    hung.push(await request(hungKey, "/v1/models"));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const hungWall = Math.round(performance.now() - t0);
  stack.redis.signal("SIGCONT");
  console.log(
    JSON.stringify({
      phase: "redis hung: GET /v1/models every 200 ms for 15 s",
      ...summary(hung),
      wall: hungWall,
      latencies: hung.map((r) => Math.round(r.ms)),
    }),
  );
} finally {
  await stack.stop();
}
