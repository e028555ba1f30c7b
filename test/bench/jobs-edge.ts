/**
 * Job creation latency (the 202 of `Prefer: respond-async`) through the real local stack (docs/benchmarks.md,
 * "Streaming and previews (issue 10)"). Sequential creations of the same small request (after the first, each job
 * is a cache hit, so the GPU stays idle and the number is the edge's: auth, limits, D1 insert, job DO create).
 *
 *   npx tsx test/bench/jobs-edge.ts [--jobs 200]
 */
import { parseArgs } from "node:util";
import { startE2EStack } from "../e2e/fixture";

const { values } = parseArgs({ options: { jobs: { type: "string", default: "200" } } });
const stack = await startE2EStack();
try {
  const { apiKey } = await stack.newAccount();
  const ms: number[] = [];
  for (let i = 0; i < Number(values.jobs) + 10; i++) {
    const t0 = performance.now();
    const res = await fetch(`${stack.urls.edge}/v1/images/generations`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${apiKey}`,
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ prompt: "job latency", size: "64x64", seed: 1 }),
    });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`HTTP ${res.status}`);
    if (i >= 10) ms.push(performance.now() - t0); // 10 warm-up requests
  }
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
  console.log(`| job creation (202) | ${ms.length} | ${q(0.5)} | ${q(0.99)} |`);
} finally {
  await stack.stop();
}
