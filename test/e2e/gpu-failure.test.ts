/**
 * End to end: the GPU function dies while it computes a request. The client gets a clean 503 with
 * Retry-After, nothing is billed and nothing is stored; once the function is back, the same request succeeds.
 * Its own stack, so that the killed backend cannot disturb the other e2e tests.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type E2EStack, startE2EStack } from "./fixture";

let stack: E2EStack;

beforeAll(async () => {
  stack = await startE2EStack();
});

afterAll(async () => {
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the GPU function's metrics until a request is queued or being computed. */
async function waitUntilGpuBusy(finished: () => Response | undefined): Promise<void> {
  for (;;) {
    const busy = (await stack.gpuMetric("zi_queue_depth")) + (await stack.gpuMetric("zi_batch_in_flight"));
    if (busy > 0) return;
    const response = finished();
    if (response)
      throw new Error(`the request ended (HTTP ${response.status}) before the GPU function was busy`);
    await sleep(5);
  }
}

// Includes a restart of the GPU function (model load and warm-up), hence its own timeout.
it("answers 503 + Retry-After when the GPU function is killed mid-request, bills nothing, then recovers", async () => {
  const { apiKey } = await stack.newAccount();
  // Large enough that the tiny model takes a while on the CPU, so the kill lands during the computation.
  const image = { prompt: "a storm over a harbour", width: 512, height: 512, seed: 606 };
  const body = JSON.stringify({
    prompt: image.prompt,
    size: "512x512",
    seed: image.seed,
    response_format: "url",
  });
  const generate = () =>
    fetch(`${stack.urls.edge}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body,
    });

  let finished: Response | undefined;
  const pending = generate().then((response) => {
    finished = response;
    return response;
  });
  await waitUntilGpuBusy(() => finished);
  await stack.gpu.kill();
  expect(stack.gpu.running()).toBe(false);

  const failed = await pending;
  expect(failed.status).toBe(503);
  expect(Number(failed.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  const error = (await failed.json()) as { error: { type: string; message: string } };
  expect(error.error.message).toBeTruthy();

  // Nothing billed, nothing stored under the image's content address.
  expect(await stack.usage(apiKey)).toMatchObject({ images: 0, amount_micros: 0 });
  const key = await stack.cacheKeyOf(image);
  expect((await fetch(`${stack.urls.edge}/v1/images/${key}.png`)).status).toBe(404);

  await stack.gpu.start();
  // The edge's circuit breaker may still be cooling down (500 ms in the e2e config): the client honours
  // Retry-After, as the official client does.
  let retried = await generate();
  for (let attempt = 0; retried.status === 503 && attempt < 5; attempt++) {
    await sleep(Number(retried.headers.get("retry-after") ?? "1") * 1000);
    retried = await generate();
  }
  expect(retried.status).toBe(200);
  expect(retried.headers.get("x-cache")).toBe("MISS");
  const result = (await retried.json()) as { data: { url: string }[] };
  expect(result.data[0].url).toContain(key);
  expect((await fetch(result.data[0].url)).status).toBe(200);
  expect(await stack.usage(apiKey)).toMatchObject({ images: 1, generated: 1 });
}, 300_000);
