/**
 * Webhook signing and the SSRF guard in the Workers runtime (edge/webhooks/). Signatures are checked with the
 * `standardwebhooks` library as a receiver would: valid, forged, replayed (stale timestamp), wrong secret,
 * rotated secret. (Deliveries themselves need async jobs, which are not built yet.)
 */
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { generateWebhookSecret, signDelivery } from "../../edge/webhooks/signing";
import { checkWebhookUrl } from "../../edge/webhooks/ssrf";

const event = { type: "job.completed", data: { id: "job_1", status: "succeeded" } };

describe("Standard Webhooks signing", () => {
  it("makes whsec_ secrets of 24 random bytes", () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(generateWebhookSecret()).not.toBe(a);
  });

  it("is verified by the standardwebhooks library; the id is the caller's, so retries keep it", () => {
    const secret = generateWebhookSecret();
    const first = signDelivery([secret], "msg_abc", event);
    const retry = signDelivery([secret], "msg_abc", event, new Date(Date.now() + 60_000));
    expect(first.headers["webhook-id"]).toBe("msg_abc");
    expect(retry.headers["webhook-id"]).toBe("msg_abc");
    expect(first.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(first.body, first.headers)).toEqual(event);
    expect(new Webhook(secret).verify(retry.body, retry.headers)).toEqual(event);
  });

  it("is rejected when forged, tampered, replayed later or checked with another secret", () => {
    const secret = generateWebhookSecret();
    const signed = signDelivery([secret], "msg_forged", event);
    const hook = new Webhook(secret);
    expect(() => hook.verify(signed.body.replace("succeeded", "failed"), signed.headers)).toThrow();
    expect(() =>
      hook.verify(signed.body, { ...signed.headers, "webhook-signature": `v1,${btoa("x".repeat(32))}` }),
    ).toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify(signed.body, signed.headers)).toThrow();
    // A delivery captured and replayed ten minutes later is outside the 5-minute tolerance.
    const old = signDelivery([secret], "msg_old", event, new Date(Date.now() - 10 * 60_000));
    expect(() => hook.verify(old.body, old.headers)).toThrow(/timestamp/i);
  });

  it("signs with both secrets during a rotation, so receivers holding either verify", () => {
    const previous = generateWebhookSecret();
    const current = generateWebhookSecret();
    const signed = signDelivery([current, previous], "msg_rot", event);
    expect(signed.headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(previous).verify(signed.body, signed.headers)).toEqual(event);
    expect(new Webhook(current).verify(signed.body, signed.headers)).toEqual(event);
  });
});

describe("webhook URL SSRF guard", () => {
  it.each([
    "https://hooks.example.com/zimage",
    "https://example.com:8443/hook?x=1",
    "https://93.184.216.34/hook",
    "https://[2606:4700:4700::1111]/hook",
  ])("accepts the public https URL %s", (url) => {
    expect(checkWebhookUrl(url).ok).toBe(true);
  });

  it.each([
    ["http://hooks.example.com/", "https"],
    ["ftp://example.com/", "https"],
    ["https://user:pw@example.com/", "credentials"],
    ["not a url", "valid URL"],
    ["https://localhost/", "local name"],
    ["https://api.localhost/", "local name"],
    ["https://metadata.google.internal/", "local name"],
    ["https://printer.local/", "local name"],
    ["https://intranet/", "public host"],
    ["https://127.0.0.1/", "loopback"],
    ["https://2130706433/", "loopback"], // 127.0.0.1 as one number, normalized by the URL parser
    ["https://0x7f.1/", "loopback"],
    ["https://10.1.2.3/", "private"],
    ["https://172.16.0.1/", "private"],
    ["https://192.168.1.1/", "private"],
    ["https://100.64.0.1/", "CGNAT"],
    ["https://169.254.169.254/latest/meta-data/", "metadata"],
    ["https://0.0.0.0/", "unspecified"],
    ["https://224.0.0.1/", "multicast"],
    ["https://[::1]/", "loopback"],
    ["https://[::]/", "unspecified"],
    ["https://[::ffff:127.0.0.1]/", "loopback"],
    ["https://[::ffff:169.254.169.254]/", "metadata"],
    ["https://[fd00::1]/", "unique-local"],
    ["https://[fe80::1]/", "link-local"],
  ])("refuses %s (%s)", (url, reason) => {
    const verdict = checkWebhookUrl(url);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toContain(reason);
  });

  it("lets the local stack's allow-listed test receiver through, http included, and nothing else", () => {
    const allow = ["127.0.0.1:9911"];
    expect(checkWebhookUrl("http://127.0.0.1:9911/hook", allow).ok).toBe(true);
    expect(checkWebhookUrl("http://127.0.0.1:9912/hook", allow).ok).toBe(false);
    expect(checkWebhookUrl("http://127.0.0.1/hook", allow).ok).toBe(false);
  });
});
