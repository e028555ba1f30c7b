/**
 * Control for the edge soak (edge-soak.ts): the same request count against the bare baseline Worker
 * (edge-workers/bare.ts: one R2 get per request, none of this project's code) under `wrangler dev`, sampling
 * workerd's RSS every 1,000 requests. If workerd grows as much here, the growth is the local runtime's, not the
 * edge's. `npx tsx test/bench/bare-soak.ts [requests=5000] [concurrency=8]`
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, WRANGLER_OFFLINE_ENV } from "../../infra/dev/start-stack";
import { freePort } from "../../infra/upstash-bridge/redis-server";
import { workerdRssKiB } from "./lib/workerd-rss";

const total = Number(process.argv[2] ?? 5000);
const concurrency = Number(process.argv[3] ?? 8);
const state = mkdtempSync(join(tmpdir(), "zi-bare-soak-"));
const port = await freePort();
const wrangler = spawn(
  process.execPath,
  [
    join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--config",
    "test/bench/edge-workers/bare.wrangler.toml",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(await freePort()),
    "--persist-to",
    state,
    "--show-interactive-dev-session=false",
  ],
  { cwd: REPO_ROOT, env: { ...process.env, ...WRANGLER_OFFLINE_ENV }, detached: true, stdio: "ignore" },
);
try {
  const url = `http://127.0.0.1:${port}/soak-missing-key`;
  for (let started = Date.now(); ; ) {
    try {
      await (await fetch(url)).arrayBuffer();
      break;
    } catch {
      if (Date.now() - started > 60_000) throw new Error("bare worker did not start");
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const samples = [Math.round(workerdRssKiB() / 1024)];
  let sent = 0;
  const t0 = Date.now();
  while (sent < total) {
    const batch = Math.min(1000, total - sent);
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < batch) {
          next++;
          await (await fetch(url)).arrayBuffer();
        }
      }),
    );
    sent += batch;
    samples.push(Math.round(workerdRssKiB() / 1024));
  }
  const rate = Math.round(total / ((Date.now() - t0) / 1000));
  const growth = Math.round(((samples.at(-1)! - samples[1]) / samples[1]) * 100);
  console.log(
    `bare worker: ${total} requests, ${rate} req/s, RSS MiB ${samples.join(" / ")}, +${growth} % after 1k`,
  );
} finally {
  try {
    process.kill(-wrangler.pid!, "SIGTERM");
  } catch {}
  rmSync(state, { recursive: true, force: true });
}
