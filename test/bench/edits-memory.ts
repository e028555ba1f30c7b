/**
 * Edge memory of an edit at the input limit (docs/benchmarks.md, "Image to image"): on the real local stack
 * (wrangler dev + GPU function on the tiny model + redis), an edit of a 2048x2048 JPEG with n = 1, 2, 4 and 10
 * (256x256 outputs, so the GPU side stays small), sampling the RSS of wrangler's workerd processes every 5 ms:
 * peak over the baseline before the request.
 *
 *   npx tsx test/bench/edits-memory.ts
 */
import sharp from "sharp";
import { startE2EStack } from "../e2e/fixture";
import { workerdRssKiB } from "./lib/workerd-rss";

const stack = await startE2EStack();
try {
  const { apiKey } = await stack.newAccount();
  const side = 2048;
  // Smooth colour fields plus noise: a realistic photo-sized JPEG (a few MB), under the 10 MiB upload limit.
  const noise = Buffer.alloc(side * side * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (Math.imul(i, 2654435761) >>> 27) + ((i / 3) % side) / 16;
  const photo = await sharp(noise, { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
  const tag = crypto.randomUUID();
  console.log(`input: ${side}x${side} JPEG, ${photo.length} bytes`);
  console.log("| n | status | ms | workerd RSS before (MiB) | peak over it (MiB) |");
  for (const n of [1, 2, 4, 10]) {
    await new Promise((r) => setTimeout(r, 1000));
    const before = workerdRssKiB();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, workerdRssKiB());
    }, 5);
    const form = new FormData();
    form.append("image", new File([photo], "photo.jpg", { type: "image/jpeg" }));
    for (const [k, v] of Object.entries({
      prompt: `memory ${tag} ${n}`,
      n: String(n),
      size: "256x256",
      steps: "2",
    }))
      form.append(k, v);
    const t0 = performance.now();
    const res = await fetch(`${stack.urls.edge}/v1/images/edits`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}` },
      body: form,
    });
    await res.arrayBuffer();
    const ms = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, workerdRssKiB());
    console.log(
      `| ${n} | ${res.status} | ${ms.toFixed(0)} | ${(before / 1024).toFixed(0)} | ${((peak - before) / 1024).toFixed(0)} |`,
    );
  }
} finally {
  await stack.stop();
}
