/**
 * Soak of the edge on the real local stack: `npx tsx test/bench/edge-soak.ts [requests=10000] [concurrency=8]`.
 * A fixed mix per round of 10: 6 cached generations (url), 1 cached generation (b64_json), 2 image GETs, 1 GET
 * /v1/models, across 50 prompts (all generated once first, so the GPU function is not the subject). Samples
 * the RSS of the stack's workerd process(es) (found by ancestry from this process) every 1,000 requests and
 * prints the samples with the growth from the first sample after warm-up. A fourth argument runs one kind of
 * request only (`cached-post`, `image-get`, `models`), to tell which path grows.
 */
import { startE2EStack } from "../e2e/fixture";
import { workerdRssKiB } from "./lib/workerd-rss";

const total = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 8);
/** `mix` (default), or one kind only to tell which path grows: `cached-post`, `image-get`, `models`. */
const mix = process.argv[4] ?? "mix";

const stack = await startE2EStack();
try {
  const { apiKey } = await stack.newAccount();
  const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
  const prompts = Array.from({ length: 50 }, (_, i) => `soak prompt ${i}`);
  const urls: string[] = [];
  for (const prompt of prompts) {
    const response = await fetch(`${stack.urls.edge}/v1/images/generations`, {
      method: "POST",
      headers,
      body: JSON.stringify({ prompt, size: "64x64", seed: 5 }),
    });
    urls.push(((await response.json()) as { data: { url: string }[] }).data[0].url);
  }

  const statuses: Record<number, number> = {};
  const samples: { requests: number; rssMiB: number }[] = [];
  let next = 0;
  let done = 0;
  const sample = () => samples.push({ requests: done, rssMiB: Math.round(workerdRssKiB() / 102.4) / 10 });
  sample();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const slot = mix === "cached-post" ? 0 : mix === "image-get" ? 7 : mix === "models" ? 9 : i % 10;
        const prompt = prompts[i % prompts.length];
        let response: Response;
        if (slot < 7) {
          response = await fetch(`${stack.urls.edge}/v1/images/generations`, {
            method: "POST",
            headers,
            body: JSON.stringify({
              prompt,
              size: "64x64",
              seed: 5,
              response_format: slot === 6 ? "b64_json" : "url",
            }),
          });
        } else if (slot < 9) {
          response = await fetch(urls[i % urls.length]);
        } else {
          response = await fetch(`${stack.urls.edge}/v1/models`, { headers });
        }
        await response.arrayBuffer();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        done++;
        if (done % 1000 === 0) sample();
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const warm = samples[1] ?? samples[0];
  const last = samples[samples.length - 1];
  console.log(
    JSON.stringify({
      requests: total,
      concurrency,
      mix,
      seconds: Math.round(seconds),
      rps: Math.round(total / seconds),
      statuses,
      samples,
      growthAfterFirst1000Pct: Math.round(((last.rssMiB - warm.rssMiB) / warm.rssMiB) * 1000) / 10,
    }),
  );
} finally {
  await stack.stop();
}
