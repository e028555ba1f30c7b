/**
 * Edge overhead of the multipart image-to-image path (docs/benchmarks.md, "Image to image"), on the real local
 * stack (wrangler dev + GPU function on the tiny model + redis, as the e2e tests start it):
 *
 *   npx tsx test/bench/edits-edge.ts [--requests 15]
 *
 * Median time to the response's last byte of, each a cache miss at 64x64, 4 steps, b64_json:
 *   generations (JSON), edits with a 64x64 PNG (strength 1: same 4 GPU steps + the VAE encoder), edits with a
 *   1024x1024 JPEG (decoded, hashed and sent to the GPU as a 3 MiB RGB frame, resized there to 64x64).
 * The difference to generations is the upload/decode/frame overhead plus the GPU's encoder (measured
 * separately by img2img.ts pipeline).
 * Then the same three as async jobs (`Prefer: respond-async`): median time to the 202, which for an edit includes
 * writing its normalised pixels to R2 (12 KB for 64², 3 MiB for 1024²).
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { REPO_ROOT } from "../../infra/dev/start-stack";
import { startE2EStack } from "../e2e/fixture";

const { values } = parseArgs({ options: { requests: { type: "string", default: "15" } } });
const N = Number(values.requests);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const stack = await startE2EStack();
try {
  const { apiKey } = await stack.newAccount();
  const auth = { authorization: `Bearer ${apiKey}` };
  const small = readFileSync(join(REPO_ROOT, "test/fixtures/edits/photo64.png"));
  const large = await sharp({
    create: { width: 1024, height: 1024, channels: 3, background: { r: 40, g: 90, b: 160 } },
  })
    .composite([{ input: await sharp(small).resize(1024, 1024).toBuffer(), blend: "over" }])
    .jpeg({ quality: 90 })
    .toBuffer();
  const timed = async (send: (i: number) => Promise<Response>, status = 200) => {
    const ms: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const res = await send(i);
      await res.arrayBuffer();
      if (res.status !== status) throw new Error(`HTTP ${res.status}`);
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const tag = crypto.randomUUID();
  const fields = (i: number) => ({
    prompt: `bench ${tag} ${i}`,
    size: "64x64",
    steps: "4",
    response_format: "b64_json",
  });
  const edit = (image: Buffer, type: string, i: number, extra: Record<string, string>, headers = {}) => {
    const form = new FormData();
    form.append("image", new File([image], "in", { type }));
    for (const [k, v] of Object.entries({ ...fields(i), ...extra })) form.append(k, v);
    return fetch(`${stack.urls.edge}/v1/images/edits`, {
      method: "POST",
      headers: { ...auth, ...headers },
      body: form,
    });
  };
  const generation = (i: number, prompt: string, headers = {}) =>
    fetch(`${stack.urls.edge}/v1/images/generations`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", ...headers },
      body: JSON.stringify({ ...fields(i), prompt, steps: 4 }),
    });
  const gen = await timed((i) => generation(i, `gen ${tag} ${i}`));
  const smallMs = await timed((i) => edit(small, "image/png", i, { strength: "1", prompt: `s ${tag} ${i}` }));
  const largeMs = await timed((i) =>
    edit(large, "image/jpeg", i, { strength: "1", prompt: `l ${tag} ${i}` }),
  );
  const async = { prefer: "respond-async" };
  const genJob = await timed((i) => generation(i, `gj ${tag} ${i}`, async), 202);
  const smallJob = await timed((i) => edit(small, "image/png", i, { prompt: `sj ${tag} ${i}` }, async), 202);
  const largeJob = await timed((i) => edit(large, "image/jpeg", i, { prompt: `lj ${tag} ${i}` }, async), 202);
  console.log(`| generations (JSON) | ${gen.toFixed(1)} | — |`);
  console.log(
    `| edits, 64x64 PNG (${small.length} B) | ${smallMs.toFixed(1)} | +${(smallMs - gen).toFixed(1)} |`,
  );
  console.log(
    `| edits, 1024x1024 JPEG (${large.length} B) | ${largeMs.toFixed(1)} | +${(largeMs - gen).toFixed(1)} |`,
  );
  console.log("\nTime to the 202 of an async job:");
  console.log(`| generation job | ${genJob.toFixed(1)} | — |`);
  console.log(`| edit job, 64x64 PNG | ${smallJob.toFixed(1)} | +${(smallJob - genJob).toFixed(1)} |`);
  console.log(`| edit job, 1024x1024 JPEG | ${largeJob.toFixed(1)} | +${(largeJob - genJob).toFixed(1)} |`);
} finally {
  await stack.stop();
}
