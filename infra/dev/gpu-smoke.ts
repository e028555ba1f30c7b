/**
 * Smoke test of one GPU function, before the edge points at it: /readyz, then one HMAC-signed `POST /v1/infer`.
 *
 *   GPU_HMAC_SECRET=... npx tsx infra/dev/gpu-smoke.ts --url https://zimage-gpu-fn-....run.app [--size 1024]
 *     [--out /tmp/gpu-smoke.png] [--header "Authorization: Bearer ..."]
 *
 * Prints the model revision (the edge's MODEL_REVISION must equal it), the latency and the server timings.
 * Exits 1 on any failure. The secret is read from the environment and never printed.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { signRequest } from "../../shared/hmac";
import { INFER_HEADERS, INFER_PATH } from "../../shared/protocol";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    size: { type: "string", default: "1024" },
    steps: { type: "string", default: "8" },
    out: { type: "string", default: "/tmp/gpu-smoke.png" },
    // Extra request header, e.g. the platform's own credential (RunPod endpoints need one).
    header: { type: "string", multiple: true, default: [] },
  },
});

function fail(message: string): never {
  console.error(`gpu-smoke: ${message}`);
  process.exit(1);
}

const secret = process.env.GPU_HMAC_SECRET;
if (!values.url) fail("--url is required");
if (!secret) fail("set GPU_HMAC_SECRET in the environment");
const base = values.url.replace(/\/+$/, "");
const side = Number(values.size);
const extra: Record<string, string> = {};
for (const header of values.header) {
  const colon = header.indexOf(":");
  if (colon <= 0) fail(`--header must be "Name: value", got ${header}`);
  extra[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
}

const ready = await fetch(`${base}/readyz`, { headers: extra }).catch((e: Error) => fail(e.message));
const readyBody = await ready.text();
if (!ready.ok) fail(`/readyz answered ${ready.status}: ${readyBody}`);
console.log(`readyz: ${readyBody}`);

const body = JSON.stringify({
  request_id: `smoke-${Date.now()}`,
  prompt: "a lighthouse at dawn, watercolor",
  negative_prompt: "",
  width: side,
  height: side,
  steps: Number(values.steps),
  guidance_scale: 0,
  seed: 42,
  output_format: "png",
});
// Signed for the URL it calls, as the edge does (a GPU function with GPU_AUDIENCE refuses other audiences).
const signature = await signRequest({ secret, method: "POST", path: INFER_PATH, body, audience: base });
const started = performance.now();
const response = await fetch(`${base}${INFER_PATH}`, {
  method: "POST",
  headers: { ...extra, ...signature, "content-type": "application/json" },
  body,
}).catch((e: Error) => fail(e.message));
const bytes = Buffer.from(await response.arrayBuffer());
const ms = Math.round(performance.now() - started);
if (!response.ok) fail(`/v1/infer answered ${response.status}: ${bytes.toString("utf8").slice(0, 500)}`);
if (response.headers.get("content-type") !== "image/png") {
  fail(`/v1/infer answered ${response.headers.get("content-type")}, expected image/png`);
}
writeFileSync(values.out, bytes);
console.log(`image: ${side}x${side}, ${bytes.length} bytes in ${ms} ms -> ${values.out}`);
console.log(`model revision: ${response.headers.get(INFER_HEADERS.modelRevision)}`);
console.log(`server timing: ${response.headers.get(INFER_HEADERS.serverTiming)}`);
