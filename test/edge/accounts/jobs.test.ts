/**
 * Async jobs on the production app in the Workers runtime (real D1, R2, Durable Objects and their alarms):
 * the job state machine (queued -> running -> succeeded / back to queued on a GPU outage / cancelled), billing
 * exactly once keyed by the job, account scoping, pagination, Prefer: wait, Idempotency-Key, resumable events.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseSse } from "../support/sse";
import { holdGpu, type Job, jobUntil as until } from "./jobs-support";
import { call, generate, installGpu, ledgerRows, newCustomer } from "./support";

afterEach(() => vi.restoreAllMocks());

const get = (key: string, path: string, headers: Record<string, string> = {}) =>
  call(path, { headers: { authorization: `Bearer ${key}`, ...headers } });
const post = (key: string, path: string) =>
  call(path, { method: "POST", headers: { authorization: `Bearer ${key}` } });

const async = { prefer: "respond-async" };

describe("async jobs", () => {
  it("answers 202 + Location, runs the job, and bills it once, keyed by the job", async () => {
    installGpu();
    const { key, accountId } = await newCustomer();
    const res = await generate(key, { prompt: `job ${crypto.randomUUID()}`, size: "64x64", n: 2 }, async);
    expect(res.status).toBe(202);
    const created = (await res.json()) as Job;
    expect(res.headers.get("location")).toBe(`/v1/jobs/${created.id}`);
    expect(res.headers.get("preference-applied")).toBe("respond-async");
    expect(created).toMatchObject({ status: "queued", progress: { images_done: 0, images_total: 2 } });
    const done = await until(key, created.id, (j) => j.status === "succeeded");
    expect(done.result?.data).toHaveLength(2);
    const rows = await ledgerRows(accountId);
    expect(rows.map((r) => [r.request_id, r.kind])).toEqual([
      [created.id, "generated"],
      [created.id, "generated"],
    ]);
    expect(done.result?.usage.price_micros).toBe(rows.reduce((s, r) => s + r.amount_micros, 0));
    const image = await call(new URL(done.result!.data[0].url!).pathname);
    expect(image.status).toBe(200);
  });

  it("belongs to its account: another key gets 404 for get, events and cancel, and does not list it", async () => {
    installGpu();
    const owner = await newCustomer();
    const other = await newCustomer();
    const job = (await (
      await generate(owner.key, { prompt: `mine ${crypto.randomUUID()}`, size: "64x64" }, async)
    ).json()) as Job;
    for (const res of [
      await get(other.key, `/v1/jobs/${job.id}`),
      await get(other.key, `/v1/jobs/${job.id}/events`),
      await post(other.key, `/v1/jobs/${job.id}/cancel`),
    ]) {
      expect(res.status).toBe(404);
    }
    expect(((await (await get(other.key, "/v1/jobs")).json()) as { data: unknown[] }).data).toHaveLength(0);
    await until(owner.key, job.id, (j) => j.status === "succeeded");
  });

  it("a cancelled job stops its GPU work when nobody else waits for it: nothing stored, nothing billed", async () => {
    const gpu = installGpu();
    const hold = holdGpu(gpu);
    const { key, accountId } = await newCustomer();
    const body = { prompt: `cancel ${crypto.randomUUID()}`, size: "64x64" };
    const job = (await (await generate(key, body, async)).json()) as Job;
    await until(key, job.id, (j) => j.status === "running");
    while (gpu.calls.length === 0) await new Promise((r) => setTimeout(r, 10));
    const cancelled = (await (await post(key, `/v1/jobs/${job.id}/cancel`)).json()) as Job;
    expect(cancelled.status).toBe("cancelled");
    // The job left the flight, its only waiter: the GPU stream is closed (the GPU function drops the job).
    while (!gpu.calls[0].aborted) await new Promise((r) => setTimeout(r, 10));
    hold.release();
    await new Promise((r) => setTimeout(r, 200));
    expect((await until(key, job.id, () => true)).status).toBe("cancelled");
    expect(await ledgerRows(accountId)).toHaveLength(0);
    // Nothing was stored: the same request is generated afresh.
    const again = await generate(key, body);
    expect(again.status, await again.clone().text()).toBe(200);
    expect(again.headers.get("x-cache")).toBe("MISS");
    expect(gpu.calls).toHaveLength(2);
  });

  it("a cancelled job leaves a flight that a synchronous request shares: that request still gets its image", async () => {
    const gpu = installGpu();
    const hold = holdGpu(gpu);
    const { key, accountId } = await newCustomer();
    const body = { prompt: `shared ${crypto.randomUUID()}`, size: "64x64", seed: 4 };
    const job = (await (await generate(key, body, async)).json()) as Job;
    while (gpu.calls.length === 0) await new Promise((r) => setTimeout(r, 10));
    const sync = generate(key, body);
    await new Promise((r) => setTimeout(r, 100));
    expect(((await (await post(key, `/v1/jobs/${job.id}/cancel`)).json()) as Job).status).toBe("cancelled");
    hold.release();
    const res = await sync;
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("COALESCED");
    expect(gpu.calls).toHaveLength(1);
    expect(gpu.calls[0].aborted).toBeFalsy();
    // Billed to the synchronous request only.
    expect((await ledgerRows(accountId)).map((r) => r.request_id)).not.toContain(job.id);
  });

  it("reports the denoising steps of a running job as they happen, on the job and in its events", async () => {
    const gpu = installGpu();
    gpu.always("gpu-a.test", { kind: "ok", stepMs: 150 }).always("gpu-b.test", { kind: "ok", stepMs: 150 });
    const { key } = await newCustomer();
    const job = (await (
      await generate(key, { prompt: `steps ${crypto.randomUUID()}`, size: "64x64", n: 2, steps: 4 }, async)
    ).json()) as Job;
    expect(job.progress).toMatchObject({ steps_done: 0, steps_total: 8 });
    const midway = await until(key, job.id, (j) => j.progress.steps_done > 0);
    expect(midway.status).toBe("running");
    expect(midway.progress.steps_done).toBeLessThan(8);
    const events = parseSse(await (await get(key, `/v1/jobs/${job.id}/events`)).text());
    const progress = events.filter((e) => e.event === "job.progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((e) => e.id === null)).toBe(true);
    expect(progress.at(-1)?.data).toMatchObject({ type: "progress", data: { steps_total: 8 } });
    const done = await until(key, job.id, (j) => j.status === "succeeded");
    expect(done.progress).toMatchObject({ images_done: 2, steps_done: 8, steps_total: 8 });
  });

  it("stays queued through a full GPU outage, retrying, and succeeds once capacity returns", async () => {
    const gpu = installGpu();
    gpu
      .always("gpu-a.test", { kind: "status", status: 503, retryAfter: "1" })
      .always("gpu-b.test", { kind: "status", status: 503, retryAfter: "1" });
    const { key, accountId } = await newCustomer();
    const job = (await (
      await generate(key, { prompt: `outage ${crypto.randomUUID()}`, size: "64x64" }, async)
    ).json()) as Job;
    const waiting = await until(key, job.id, (j) => j.status === "queued" && j.attempts >= 1);
    expect(waiting.error).toMatchObject({ type: "service_unavailable" });
    gpu.always("gpu-a.test", { kind: "ok" }).always("gpu-b.test", { kind: "ok" });
    const done = await until(key, job.id, (j) => j.status === "succeeded");
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(await ledgerRows(accountId)).toHaveLength(1);
    const events = parseSse(await (await get(key, `/v1/jobs/${job.id}/events`)).text());
    expect(events.map((e) => e.event)).toContain("job.retrying");
    expect(events.at(-1)?.event).toBe("job.succeeded");
  });

  it("refuses response_format b64_json for a job (its result holds URLs) with a clear 400, creating nothing", async () => {
    installGpu();
    const { key } = await newCustomer();
    const res = await generate(
      key,
      { prompt: `b64 job ${crypto.randomUUID()}`, size: "64x64", response_format: "b64_json" },
      async,
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string; code: string } }).error).toMatchObject({
      param: "response_format",
      code: "unsupported_value",
    });
    expect(((await (await get(key, "/v1/jobs")).json()) as { data: unknown[] }).data).toHaveLength(0);
  });

  it("Prefer: wait=N holds the answer until the job is done (200 with the result)", async () => {
    installGpu();
    const { key } = await newCustomer();
    const res = await generate(
      key,
      { prompt: `wait ${crypto.randomUUID()}`, size: "64x64" },
      { prefer: "wait=10" },
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as Job).status).toBe("succeeded");
  });

  it("Idempotency-Key on job creation replays the same job, billed once", async () => {
    installGpu();
    const { key, accountId } = await newCustomer();
    const body = { prompt: `idem job ${crypto.randomUUID()}`, size: "64x64" };
    const headers = { ...async, "idempotency-key": `job-${crypto.randomUUID()}` };
    const first = (await (await generate(key, body, headers)).json()) as Job;
    const replay = await generate(key, body, headers);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(((await replay.json()) as Job).id).toBe(first.id);
    await until(key, first.id, (j) => j.status === "succeeded");
    expect(await ledgerRows(accountId)).toHaveLength(1);
  });

  it("streams the job's events as SSE, resumable with Last-Event-ID", async () => {
    installGpu();
    const { key } = await newCustomer();
    const job = (await (
      await generate(key, { prompt: `events ${crypto.randomUUID()}`, size: "64x64" }, async)
    ).json()) as Job;
    const all = parseSse(await (await get(key, `/v1/jobs/${job.id}/events`)).text()).filter(
      (e) => e.event !== "job.progress",
    );
    expect(all.map((e) => e.event)).toEqual(["job.queued", "job.running", "job.image", "job.succeeded"]);
    expect(all.at(-1)?.data).toMatchObject({ job: { id: job.id, status: "succeeded" } });
    const resumed = parseSse(
      await (await get(key, `/v1/jobs/${job.id}/events`, { "last-event-id": "2" })).text(),
    );
    expect(resumed.map((e) => e.event)).toEqual(["job.image", "job.succeeded"]);
  });

  it("lists the account's jobs newest first, paginated with a cursor", async () => {
    installGpu();
    const { key } = await newCustomer();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await generate(key, { prompt: `list ${i} ${crypto.randomUUID()}`, size: "64x64" }, async);
      ids.push(((await res.json()) as Job).id);
      await new Promise((r) => setTimeout(r, 5));
    }
    const page1 = (await (await get(key, "/v1/jobs?limit=2")).json()) as {
      data: { id: string }[];
      has_more: boolean;
      next_cursor: string;
    };
    expect(page1.data.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(page1.has_more).toBe(true);
    const page2 = (await (await get(key, `/v1/jobs?limit=2&after=${page1.next_cursor}`)).json()) as {
      data: { id: string }[];
      has_more: boolean;
    };
    expect(page2.data.map((j) => j.id)).toEqual([ids[0]]);
    expect(page2.has_more).toBe(false);
    for (const id of ids) await until(key, id, (j) => j.status === "succeeded");
  });
});
