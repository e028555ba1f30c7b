/**
 * End to end with a real local webhook receiver (node:http, verifying with the `standardwebhooks` library) on the
 * real stack: an async job's completion is delivered signed; a forged and a replayed delivery are rejected by the
 * receiver; a receiver that is down gets the delivery once it is up; cancel before and during compute is not
 * billed (checked in GET /v1/usage). The receiver is on the stack's WEBHOOK_ALLOW_HOSTS (loopback, http).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type E2EStack, startE2EStack } from "./fixture";

let stack: E2EStack;
let receiver: Server;
let port = 0;
let up = true;
const deliveries: { headers: Record<string, string>; body: string }[] = [];

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (!up) {
      res.socket?.destroy(); // down: the connection drops
      return;
    }
    deliveries.push({
      headers: req.headers as Record<string, string>,
      body: Buffer.concat(chunks).toString("utf8"),
    });
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  port = (receiver.address() as AddressInfo).port;
  stack = await startE2EStack({
    vars: { WEBHOOK_ALLOW_HOSTS: `127.0.0.1:${port}`, WEBHOOK_RETRY_BASE_MS: "300" },
  });
});

afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(apiKey: string, path: string, body?: object, headers: Record<string, string> = {}) {
  return fetch(`${stack.urls.edge}${path}`, {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
}

async function secret(apiKey: string): Promise<string> {
  return ((await (await post(apiKey, "/v1/webhooks/secret")).json()) as { secret: string }).secret;
}

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(50);
  }
}

it("delivers a job's completion signed per Standard Webhooks; forged and replayed deliveries are rejected", async () => {
  const { apiKey } = await stack.newAccount();
  const res = await post(apiKey, "/v1/images/generations", {
    prompt: "a webhook on the real stack",
    size: "128x128",
    webhook_url: `http://127.0.0.1:${port}/hook`,
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const delivery = await waitFor(() => deliveries.find((d) => d.body.includes(id)));
  const hook = new Webhook(await secret(apiKey));
  const payload = hook.verify(delivery.body, delivery.headers) as {
    type: string;
    data: { job: { status: string } };
  };
  expect(payload).toMatchObject({ type: "job.succeeded", data: { job: { status: "succeeded" } } });
  expect(() => hook.verify(delivery.body.replace("succeeded", "failed"), delivery.headers)).toThrow();
  // A capture replayed later than the 5-minute tolerance (the receiver's clock moved on) is refused.
  const later = Number(delivery.headers["webhook-timestamp"]) + 600;
  const realNow = Date.now;
  Date.now = () => later * 1000;
  try {
    expect(() => hook.verify(delivery.body, delivery.headers)).toThrow(/timestamp/i);
  } finally {
    Date.now = realNow;
  }
  expect(await stack.usage(apiKey)).toMatchObject({ images: 1, generated: 1 });
});

it("retries while the receiver is down and delivers once it is up, with one webhook-id", async () => {
  const { apiKey } = await stack.newAccount();
  up = false;
  const res = await post(apiKey, "/v1/images/generations", {
    prompt: "a webhook to a receiver that is down",
    size: "64x64",
    webhook_url: `http://127.0.0.1:${port}/down`,
  });
  const { id } = (await res.json()) as { id: string };
  type JobView = {
    webhook: { deliveries: { id: string; state: string; attempts: { error: string | null }[] }[] };
  };
  const failing = await waitFor(async () => {
    const job = (await (await post(apiKey, `/v1/jobs/${id}`)).json()) as JobView;
    return job.webhook.deliveries[0]?.attempts.length >= 2 ? job : undefined;
  });
  expect(failing.webhook.deliveries[0].state).toBe("pending");
  up = true;
  const delivered = await waitFor(() => deliveries.find((d) => d.body.includes(id)));
  expect(delivered.headers["webhook-id"]).toBe(failing.webhook.deliveries[0].id);
  const job = (await (await post(apiKey, `/v1/jobs/${id}`)).json()) as JobView;
  expect(job.webhook.deliveries[0].state).toBe("delivered");
});

it("bills nothing for a job cancelled before compute or during it, and the GPU drops the running one", async () => {
  const { apiKey } = await stack.newAccount();
  const imagesBefore = await stack.gpuMetric("zi_images_total");
  // During compute: a 512x512 job is running on the GPU when it is cancelled.
  const during = (await (
    await post(
      apiKey,
      "/v1/images/generations",
      { prompt: "cancel me while computing", size: "512x512" },
      { prefer: "respond-async" },
    )
  ).json()) as { id: string };
  await waitFor(async () => ((await stack.gpuMetric("zi_batch_in_flight")) > 0 ? true : undefined));
  const cancelled = (await (await post(apiKey, `/v1/jobs/${during.id}/cancel`, {})).json()) as {
    status: string;
  };
  expect(cancelled.status).toBe("cancelled");
  // Before compute: cancelled right after creation.
  const before = (await (
    await post(
      apiKey,
      "/v1/images/generations",
      { prompt: "cancel me at once", size: "512x512", seed: 5 },
      { prefer: "respond-async" },
    )
  ).json()) as { id: string };
  expect(
    ((await (await post(apiKey, `/v1/jobs/${before.id}/cancel`, {})).json()) as { status: string }).status,
  ).toBe("cancelled");
  // Let the GPU finish whatever it started; the jobs stay cancelled and unbilled.
  await waitFor(async () =>
    (await stack.gpuMetric("zi_batch_in_flight")) + (await stack.gpuMetric("zi_queue_depth")) === 0
      ? true
      : undefined,
  );
  await sleep(500);
  for (const id of [during.id, before.id]) {
    expect(((await (await post(apiKey, `/v1/jobs/${id}`)).json()) as { status: string }).status).toBe(
      "cancelled",
    );
  }
  expect(await stack.usage(apiKey)).toMatchObject({ images: 0, amount_micros: 0 });
  // The job left its flight, the flight's only waiter, so the GPU function stopped it between steps: no image.
  expect(await stack.gpuMetric("zi_images_total")).toBe(imagesBefore);
});
