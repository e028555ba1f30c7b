/**
 * Edits as async jobs and webhooks, in the Workers runtime (real D1, R2, Durable Objects and alarms): the input
 * pixels are kept in R2 only while the job lives (never in the job's Durable Object storage), reach the GPU
 * unchanged from the alarm, and are deleted when the job succeeds, fails or is cancelled; billing and the
 * signed webhook are the generations machinery, with the steps an edit runs.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { JOB_RETENTION_MS, type JobState } from "../../../edge/jobs/job-object";
import { jobSchema } from "../../../edge/openapi/schemas";
import { holdGpu, installGpuAndReceiver, type Job, secretOf, jobUntil as until } from "./jobs-support";
import { call, edit, installGpu, ledgerRows, newCustomer, readError } from "./support";

afterEach(() => vi.restoreAllMocks());

const INPUT_BYTES = 64 * 64 * 3;

const storedInput = (id: string) => env.IMAGES.get(`job-inputs/${id}`);
const jobObject = (id: string) => env.JOBS.get(env.JOBS.idFromName(id));

describe("edit jobs", () => {
  it("runs an edit as a job from its stored input, bills the steps run, and deletes the input at the end", async () => {
    const gpu = installGpu();
    const hold = holdGpu(gpu);
    const { key, accountId } = await newCustomer();
    const fields = {
      prompt: `edit job ${crypto.randomUUID()}`,
      n: "2",
      seed: "7",
      strength: "0.5",
      steps: "8",
    };

    const res = await edit(key, fields, { prefer: "respond-async" });
    expect(res.status).toBe(202);
    const created = (await res.json()) as Job;
    expect(res.headers.get("location")).toBe(`/v1/jobs/${created.id}`);
    expect(created).toMatchObject({
      operation: "image_edit",
      status: "queued",
      // Two images of the 4 steps strength 0.5 runs out of 8.
      progress: { images_total: 2, steps_done: 0, steps_total: 8 },
    });

    // While the job lives: the pixels are in R2, one object for both images, and not in the job's storage.
    await until(key, created.id, (j) => j.status === "running");
    const input = await storedInput(created.id);
    expect(input).not.toBeNull();
    const pixels = new Uint8Array(await input!.arrayBuffer());
    expect(pixels.length).toBe(INPUT_BYTES);
    const state = await jobObject(created.id).get();
    expect(state?.spec.input).toMatchObject({ key: `job-inputs/${created.id}`, width: 64, height: 64 });
    expect(state?.spec.images.every((image) => image.job.initPixels === undefined)).toBe(true);

    hold.release();
    const done = await until(key, created.id, (j) => j.status === "succeeded");
    // Each GPU call got the stored pixels in its signed frame, with the edit's strength.
    const calls = gpu.calls.filter((c) => c.pixels);
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      expect(c.pixels).toEqual(pixels);
      expect(c.body).toMatchObject({ init_image: { width: 64, height: 64, strength: 0.5 } });
    }
    const rows = await ledgerRows(accountId);
    expect(rows.map((r) => [r.request_id, r.kind, r.steps])).toEqual([
      [created.id, "generated", 4],
      [created.id, "generated", 4],
    ]);
    expect(done.result?.usage).toMatchObject({
      steps: 4,
      price_micros: rows.reduce((sum, r) => sum + r.amount_micros, 0),
    });
    expect(await storedInput(created.id)).toBeNull();

    // Listed as an edit, without opening the job.
    const list = (await (await call("/v1/jobs", { headers: { authorization: `Bearer ${key}` } })).json()) as {
      data: { id: string; operation: string }[];
    };
    expect(list.data.find((j) => j.id === created.id)?.operation).toBe("image_edit");
    // The job made the images the synchronous edit would have: the same request is now a cache hit.
    const again = await edit(key, fields);
    expect(again.headers.get("x-cache")).toBe("HIT");
    const sync = (await again.json()) as { data: { url: string }[] };
    expect(sync.data.map((d) => d.url)).toEqual(done.result?.data.map((d) => d.url));
  });

  it("delivers a signed webhook for an edit (a webhook_url alone makes the job)", async () => {
    const { received } = installGpuAndReceiver();
    const { key } = await newCustomer();
    const res = await edit(key, {
      prompt: `hooked edit ${crypto.randomUUID()}`,
      webhook_url: "https://hooks.example.test/edits",
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as Job;
    const delivered = await until(key, id, (j) => j.webhook?.deliveries[0]?.state === "delivered");
    // The job object with its deliveries is the one /openapi.json documents (the contract test sees none).
    expect(jobSchema.safeParse(delivered).error).toBeUndefined();
    const secret = await secretOf(key);
    const payload = new Webhook(secret).verify(received[0].body, received[0].headers) as {
      type: string;
      data: { job: unknown };
    };
    expect(payload).toMatchObject({
      type: "job.succeeded",
      data: { job: { id, operation: "image_edit", status: "succeeded", result: { usage: { steps: 5 } } } },
    });
    expect(await storedInput(id)).toBeNull();
  });

  it("a cancelled edit job deletes its input at once and is not billed", async () => {
    const gpu = installGpu();
    const hold = holdGpu(gpu);
    const { key, accountId } = await newCustomer();
    const res = await edit(
      key,
      { prompt: `cancel edit ${crypto.randomUUID()}` },
      { prefer: "respond-async" },
    );
    const { id } = (await res.json()) as Job;
    await until(key, id, (j) => j.status === "running");
    expect(await storedInput(id)).not.toBeNull();
    const cancel = await call(`/v1/jobs/${id}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
    });
    expect(((await cancel.json()) as Job).status).toBe("cancelled");
    expect(await storedInput(id)).toBeNull();
    hold.release();
    while (gpu.calls.length === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    expect((await until(key, id, () => true)).status).toBe("cancelled");
    expect(await ledgerRows(accountId)).toHaveLength(0);
  });

  it("fails with job_input_missing, unbilled, when the input is gone before a retry", async () => {
    const gpu = installGpu();
    gpu
      .always("gpu-a.test", { kind: "status", status: 503, retryAfter: "1" })
      .always("gpu-b.test", { kind: "status", status: 503, retryAfter: "1" });
    const { key, accountId } = await newCustomer();
    const res = await edit(key, { prompt: `lost input ${crypto.randomUUID()}` }, { prefer: "respond-async" });
    const { id } = (await res.json()) as Job;
    await until(key, id, (j) => j.status === "queued" && j.attempts >= 1);
    await env.IMAGES.delete(`job-inputs/${id}`);
    gpu.always("gpu-a.test", { kind: "ok" }).always("gpu-b.test", { kind: "ok" });
    const failed = await until(key, id, (j) => j.status === "failed");
    expect(failed.error).toMatchObject({ type: "server_error", code: "job_input_missing" });
    expect(await ledgerRows(accountId)).toHaveLength(0);
  });

  it("retries, still queued, while R2 cannot read its input, then succeeds once it can", async () => {
    installGpu();
    const { key, accountId } = await newCustomer();
    const realGet = env.IMAGES.get.bind(env.IMAGES);
    const get = vi.spyOn(env.IMAGES, "get").mockImplementation(((k: string, options?: R2GetOptions) => {
      if (k.startsWith("job-inputs/")) return Promise.reject(new Error("R2 unavailable"));
      return realGet(k, options);
    }) as typeof env.IMAGES.get);
    const res = await edit(key, { prompt: `r2 down ${crypto.randomUUID()}` }, { prefer: "respond-async" });
    const { id } = (await res.json()) as Job;
    const waiting = await until(key, id, (j) => j.attempts >= 1 && j.status === "queued");
    expect(waiting.error).toMatchObject({ type: "service_unavailable", code: "job_input_unavailable" });
    get.mockRestore();
    await until(key, id, (j) => j.status === "succeeded");
    expect(await ledgerRows(accountId)).toHaveLength(1);
    expect(await storedInput(id)).toBeNull();
  });

  it("at the end of its retention the job and any input it still holds are deleted", async () => {
    const gpu = installGpu();
    // A GPU outage keeps the job queued (retrying), so its input is still stored when retention runs out.
    gpu
      .always("gpu-a.test", { kind: "status", status: 503, retryAfter: "30" })
      .always("gpu-b.test", { kind: "status", status: 503, retryAfter: "30" });
    const { key } = await newCustomer();
    const res = await edit(key, { prompt: `retention ${crypto.randomUUID()}` }, { prefer: "respond-async" });
    const { id } = (await res.json()) as Job;
    await until(key, id, (j) => j.status === "queued" && j.attempts >= 1);
    expect(await storedInput(id)).not.toBeNull();
    // Age the job past its retention, then run its alarm as the platform would.
    const stub = jobObject(id);
    await runInDurableObject(stub, async (_instance, state) => {
      const job = (await state.storage.get("job")) as JobState;
      job.spec.createdAt -= JOB_RETENTION_MS;
      await state.storage.put("job", job);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedInput(id)).toBeNull();
    expect((await call(`/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(404);
    expect(await stub.get()).toBeNull();
  });

  it("refuses stream: true with a webhook_url (400), creating nothing", async () => {
    installGpu();
    const { key } = await newCustomer();
    const res = await edit(key, {
      prompt: "both",
      stream: "true",
      webhook_url: "https://hooks.example.test/x",
    });
    expect(res.status).toBe(400);
    expect(await readError(res)).toMatchObject({ param: "webhook_url", code: "unsupported_value" });
    const list = (await (await call("/v1/jobs", { headers: { authorization: `Bearer ${key}` } })).json()) as {
      data: unknown[];
    };
    expect(list.data).toHaveLength(0);
  });
});
