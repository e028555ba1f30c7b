/**
 * Webhook deliveries of async jobs in the Workers runtime: signed per Standard Webhooks with the account's secret
 * (verified with the `standardwebhooks` library), retried after failures with the same webhook-id, each attempt
 * on the job; the SSRF guard refuses private targets with 400; the secret is readable and rotatable.
 */
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { installGpuAndReceiver as install, jobUntil, secretOf } from "./jobs-support";
import { call, generate, newCustomer, readError } from "./support";

afterEach(() => vi.restoreAllMocks());

describe("webhook deliveries", () => {
  it("delivers the completed event signed with the account's secret, retrying with the same webhook-id", async () => {
    const { received } = install([500, 503]);
    const { key } = await newCustomer();
    const res = await generate(key, {
      prompt: `hooked ${crypto.randomUUID()}`,
      size: "64x64",
      webhook_url: "https://hooks.example.test/zimage",
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = await jobUntil(key, id, (j) => j.webhook?.deliveries[0]?.state === "delivered");
    expect(job.status).toBe("succeeded");
    const deliveries = job.webhook?.deliveries ?? [];
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0].attempts.map((a) => a.status)).toEqual([500, 503, 200]);
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.headers["webhook-id"]))).toEqual(new Set([deliveries[0].id]));
    const hook = new Webhook(await secretOf(key));
    const payload = hook.verify(received[2].body, received[2].headers) as {
      type: string;
      data: { job: { id: string; status: string } };
    };
    expect(payload).toMatchObject({ type: "job.succeeded", data: { job: { id, status: "succeeded" } } });
    // A forged body with the real headers is refused by the receiver's library.
    expect(() => hook.verify(received[2].body.replace("succeeded", "failed"), received[2].headers)).toThrow();
  });

  it("with webhook_events all, delivers every job event", async () => {
    const { received } = install([]);
    const { key } = await newCustomer();
    const res = await generate(key, {
      prompt: `all events ${crypto.randomUUID()}`,
      size: "64x64",
      webhook_url: "https://hooks.example.test/all",
      webhook_events: "all",
    });
    const { id } = (await res.json()) as { id: string };
    await jobUntil(
      key,
      id,
      (j) =>
        (j.webhook?.deliveries.length ?? 0) >= 4 &&
        (j.webhook?.deliveries.every((d) => d.state === "delivered") ?? false),
    );
    const types = received.map((r) => (JSON.parse(r.body) as { type: string }).type);
    expect(types).toEqual(
      expect.arrayContaining(["job.queued", "job.running", "job.image", "job.succeeded"]),
    );
  });

  it.each([
    "https://127.0.0.1/hook",
    "http://hooks.example.test/hook",
    "https://169.254.169.254/",
    "https://[::1]/x",
  ])("refuses webhook_url %s with 400 before creating a job", async (url) => {
    install([]);
    const { key } = await newCustomer();
    const res = await generate(key, {
      prompt: `ssrf ${crypto.randomUUID()}`,
      size: "64x64",
      webhook_url: url,
    });
    expect(res.status).toBe(400);
    expect(await readError(res)).toMatchObject({ param: "webhook_url", code: "webhook_url_refused" });
    const list = (await (await call("/v1/jobs", { headers: { authorization: `Bearer ${key}` } })).json()) as {
      data: unknown[];
    };
    expect(list.data).toHaveLength(0);
  });

  it("delivers jobs without a webhook_url to the account's default endpoint; a webhook_url wins; DELETE stops it", async () => {
    const { received } = install([]);
    const { key } = await newCustomer();
    const other = await newCustomer();
    const endpoint = (init: RequestInit = {}, who = key) =>
      call("/v1/webhooks/endpoint", {
        ...init,
        headers: { authorization: `Bearer ${who}`, "content-type": "application/json" },
      });
    expect(await (await endpoint()).json()).toMatchObject({ object: "webhook_endpoint", url: null });
    const refused = await endpoint({ method: "PUT", body: JSON.stringify({ url: "https://10.0.0.8/hook" }) });
    expect(refused.status).toBe(400);
    expect(await readError(refused)).toMatchObject({ param: "url", code: "webhook_url_refused" });
    const set = await endpoint({
      method: "PUT",
      body: JSON.stringify({ url: "https://hooks.example.test/default" }),
    });
    expect(await set.json()).toMatchObject({
      url: "https://hooks.example.test/default",
      events: "completed",
    });
    // Another account's endpoint is its own.
    expect(await (await endpoint({}, other.key)).json()).toMatchObject({ url: null });

    const job = async (body: Record<string, unknown>) => {
      const res = await generate(
        key,
        { size: "64x64", ...body, prompt: `default ${crypto.randomUUID()}` },
        {
          prefer: "respond-async",
        },
      );
      return ((await res.json()) as { id: string }).id;
    };
    const viaDefault = await job({});
    const viaOwn = await job({ webhook_url: "https://hooks.example.test/own" });
    for (const id of [viaDefault, viaOwn])
      await jobUntil(key, id, (j) => j.webhook?.deliveries[0]?.state === "delivered");
    const targets = (id: string) =>
      received
        .filter((r) => (JSON.parse(r.body) as { data: { job: { id: string } } }).data.job.id === id)
        .map((r) => r.url);
    expect(targets(viaDefault)).toEqual(["https://hooks.example.test/default"]);
    expect(targets(viaOwn)).toEqual(["https://hooks.example.test/own"]);
    // A synchronous request is not a job: nothing is delivered for it.
    const before = received.length;
    expect((await generate(key, { prompt: `sync ${crypto.randomUUID()}`, size: "64x64" })).status).toBe(200);

    await endpoint({ method: "DELETE" });
    const after = await job({});
    await jobUntil(key, after, (j) => j.status === "succeeded");
    expect((await jobUntil(key, after, () => true)).webhook).toBeNull();
    expect(received.length).toBe(before);
  });

  it("rotates the secret; the previous one keeps verifying during the grace period", async () => {
    const { received } = install([]);
    const { key } = await newCustomer();
    const before = await secretOf(key);
    expect(before).toMatch(/^whsec_/);
    const rotated = (await (
      await call("/v1/webhooks/secret/rotate", {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
      })
    ).json()) as {
      secret: string;
      previous_valid_until: number;
    };
    expect(rotated.secret).not.toBe(before);
    expect(rotated.previous_valid_until).toBeGreaterThan(Date.now() / 1000);
    const res = await generate(key, {
      prompt: `rotated ${crypto.randomUUID()}`,
      size: "64x64",
      webhook_url: "https://hooks.example.test/r",
    });
    const { id } = (await res.json()) as { id: string };
    await jobUntil(key, id, (j) => j.webhook?.deliveries[0]?.state === "delivered");
    const last = received.at(-1)!;
    expect(new Webhook(rotated.secret).verify(last.body, last.headers)).toBeTruthy();
    expect(new Webhook(before).verify(last.body, last.headers)).toBeTruthy();
  });
});
