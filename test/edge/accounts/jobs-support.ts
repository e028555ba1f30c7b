/**
 * Helpers of the async-job tests (jobs, webhook deliveries, edit jobs): polling a job, a webhook receiver beside
 * the fake GPU, the account's signing secret, and a GPU held until released.
 */
import { vi } from "vitest";
import type { z } from "zod";
import type { jobSchema } from "../../../edge/openapi/schemas";
import { type FakeGpu, gate, healthyFakeGpu } from "../support/fake-gpu";
import { call } from "./support";

/** The job object as /openapi.json documents it. */
export type Job = z.infer<typeof jobSchema>;

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** Polls GET /v1/jobs/{id} until `done` holds. */
export async function jobUntil(key: string, id: string, done: (job: Job) => boolean): Promise<Job> {
  for (;;) {
    const job = (await (await call(`/v1/jobs/${id}`, { headers: auth(key) })).json()) as Job;
    if (done(job)) return job;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Fake GPU + a webhook receiver at hooks.example.test answering `statuses` in order (then 200). */
export function installGpuAndReceiver(statuses: number[] = []) {
  const gpu = healthyFakeGpu();
  const received: Received[] = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.hostname === "127.0.0.1") return realFetch(input, init);
    if (url.hostname === "hooks.example.test") {
      received.push({
        url: request.url,
        headers: Object.fromEntries(request.headers),
        body: await request.text(),
      });
      return new Response("ok", { status: statuses.shift() ?? 200 });
    }
    return gpu.handle(request);
  });
  return { gpu, received };
}

/** The account's webhook signing secret (whsec_...). */
export async function secretOf(key: string): Promise<string> {
  const res = await call("/v1/webhooks/secret", { headers: auth(key) });
  return ((await res.json()) as { secret: string }).secret;
}

/** Holds every GPU call of both test backends until `release()` (the jobs stay running). */
export function holdGpu(gpu: FakeGpu): { release: () => void } {
  const hold = gate();
  gpu
    .always("gpu-a.test", { kind: "ok", gate: hold.promise })
    .always("gpu-b.test", { kind: "ok", gate: hold.promise });
  return hold;
}
