/**
 * Webhook delivery latency after completion through the real local stack (docs/benchmarks.md): time from the
 * job's `succeeded` event (its `at`, ms, same machine clock) to the receiver getting the signed delivery.
 *
 *   npx tsx test/bench/webhooks-edge.ts [--jobs 20]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { startE2EStack } from "../e2e/fixture";

const { values } = parseArgs({ options: { jobs: { type: "string", default: "20" } } });
const latencies: number[] = [];
const receiver = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data: { event: { at: number } } };
  latencies.push(Date.now() - payload.data.event.at);
  res.writeHead(204).end();
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const port = (receiver.address() as AddressInfo).port;
const stack = await startE2EStack({ vars: { WEBHOOK_ALLOW_HOSTS: `127.0.0.1:${port}` } });
try {
  const { apiKey } = await stack.newAccount();
  const n = Number(values.jobs);
  for (let i = 0; i < n; i++) {
    // Sequential: one job at a time, so each delivery's latency is its own.
    const before = latencies.length;
    await fetch(`${stack.urls.edge}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        prompt: `webhook latency ${i}`,
        size: "64x64",
        webhook_url: `http://127.0.0.1:${port}/h`,
      }),
    });
    while (latencies.length === before) await new Promise((r) => setTimeout(r, 5));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  console.log(`| webhook delivery after completion | ${sorted.length} | ${q(0.5)} | ${q(0.99)} |`);
} finally {
  await stack.stop();
  receiver.close();
}
