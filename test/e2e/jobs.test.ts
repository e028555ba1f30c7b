/**
 * End to end on the real stack (wrangler dev: D1 migrations, Durable Object alarms; GPU function on the tiny
 * model): an async job runs to success and is billed once; a job whose GPU function is killed mid-compute goes back
 * to queued, survives the outage and succeeds once the function is back, billed once, never a partial object.
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

interface Job {
  id: string;
  status: string;
  attempts: number;
  result: { data: { url: string }[] } | null;
}

async function createJob(apiKey: string, body: object): Promise<{ res: Response; job: Job }> {
  const res = await fetch(`${stack.urls.edge}/v1/images/generations`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${apiKey}`,
      "content-type": "application/json",
      prefer: "respond-async",
    },
    body: JSON.stringify(body),
  });
  return { res, job: (await res.clone().json()) as Job };
}

async function until(apiKey: string, id: string, done: (job: Job) => boolean): Promise<Job> {
  for (;;) {
    const res = await fetch(`${stack.urls.edge}/v1/jobs/${id}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const job = (await res.json()) as Job;
    if (done(job)) return job;
    await sleep(50);
  }
}

it("runs an async job to success and bills it once", async () => {
  const { apiKey } = await stack.newAccount();
  const { res, job } = await createJob(apiKey, {
    prompt: "a job on the real stack",
    size: "128x128",
    seed: 3,
  });
  expect(res.status).toBe(202);
  expect(res.headers.get("location")).toBe(`/v1/jobs/${job.id}`);
  const done = await until(apiKey, job.id, (j) => j.status === "succeeded");
  expect((await fetch(done.result!.data[0].url)).status).toBe(200);
  expect(await stack.usage(apiKey)).toMatchObject({ images: 1, generated: 1 });
});

it("survives its GPU function being killed mid-job: back to queued, then succeeds once it is back, billed once", async () => {
  const { apiKey } = await stack.newAccount();
  const image = { prompt: "a job through an outage", width: 512, height: 512, seed: 808 };
  const { job } = await createJob(apiKey, { prompt: image.prompt, size: "512x512", seed: image.seed });
  while ((await stack.gpuMetric("zi_batch_in_flight")) === 0) await sleep(5);
  await stack.gpu.kill();
  const waiting = await until(apiKey, job.id, (j) => j.status === "queued" && j.attempts >= 1);
  expect(waiting.status).toBe("queued");
  const key = await stack.cacheKeyOf(image);
  expect((await fetch(`${stack.urls.edge}/v1/images/${key}.png`)).status).toBe(404);
  expect(await stack.usage(apiKey)).toMatchObject({ images: 0 });

  await stack.gpu.start();
  const done = await until(apiKey, job.id, (j) => j.status === "succeeded" || j.status === "failed");
  expect(done.status).toBe("succeeded");
  expect(done.attempts).toBeGreaterThanOrEqual(2);
  expect((await fetch(`${stack.urls.edge}/v1/images/${key}.png`)).status).toBe(200);
  expect(await stack.usage(apiKey)).toMatchObject({ images: 1, generated: 1 });
}, 300_000);
