/**
 * Time to first event and to first preview of a streamed miss vs the sync call, through the real local stack
 * (wrangler dev + GPU function on the tiny model, CPU + redis), as a client sees them (docs/benchmarks.md,
 * "Streaming, previews"). Each round uses a fresh prompt (a miss); rounds alternate sync / stream.
 *
 *   npx tsx test/bench/stream-edge.ts [--size 256 --rounds 5 --partial 2]
 */
import { parseArgs } from "node:util";
import { startE2EStack } from "../e2e/fixture";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "256" },
    rounds: { type: "string", default: "5" },
    partial: { type: "string", default: "2" },
  },
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const stack = await startE2EStack();
try {
  const { apiKey } = await stack.newAccount();
  const size = `${values.size}x${values.size}`;
  const post = (body: object) =>
    fetch(`${stack.urls.edge}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const sync: number[] = [];
  const rows = new Map<number, { first: number[]; preview: number[]; done: number[] }>();
  const streamOnce = async (i: number, partial: number) => {
    const t0 = performance.now();
    const streamed = await post({
      prompt: `bench stream ${partial} ${i} ${Date.now()}`,
      size,
      stream: true,
      partial_images: partial,
    });
    const reader = streamed.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let firstMs = 0;
    let previewMs = 0;
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      text += decoder.decode(value, { stream: true });
      firstMs ||= performance.now() - t0;
      if (!previewMs && text.includes("image_generation.partial_image")) previewMs = performance.now() - t0;
    }
    if (!text.includes("image_generation.completed")) throw new Error(`stream failed: ${text.slice(-300)}`);
    if (i === 0) return; // warm-up
    const row = rows.get(partial) ?? { first: [], preview: [], done: [] };
    rows.set(partial, row);
    row.first.push(firstMs);
    if (previewMs) row.preview.push(previewMs);
    row.done.push(performance.now() - t0);
  };
  for (let i = 0; i <= Number(values.rounds); i++) {
    const t0 = performance.now();
    const res = await post({ prompt: `bench sync ${i} ${Date.now()}`, size });
    await res.arrayBuffer();
    if (i > 0) sync.push(performance.now() - t0);
    await streamOnce(i, 0);
    await streamOnce(i, Number(values.partial));
  }
  const f = (xs: number[]) => (xs.length ? median(xs).toFixed(0) : "-");
  console.log("| path | size | first byte of answer ms | first preview ms | image ms |");
  console.log("|---|---|---|---|---|");
  console.log(`| sync POST /v1/images/generations | ${size} | ${f(sync)} | - | ${f(sync)} |`);
  for (const [partial, r] of rows) {
    console.log(
      `| stream: true, partial_images ${partial} | ${size} | ${f(r.first)} | ${f(r.preview)} | ${f(r.done)} |`,
    );
  }
} finally {
  await stack.stop();
}
