import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { putImage } from "../../edge/cache/image-store";
import { ORIGIN, readError, testImageRequest } from "./support/api";

const KEY = "f".repeat(63) + "0";
const BYTES = new Uint8Array(Array.from({ length: 1000 }, (_, i) => i % 251));
const url = (ext = "png", key = KEY) => `${ORIGIN}/v1/images/${key}.${ext}`;

beforeAll(async () => {
  await putImage(env.IMAGES, KEY, BYTES, "image/png", {
    cacheKeyVersion: "zi-cache-v2",
    ...testImageRequest("served", 1),
    promptTruncated: false,
    requestId: "req_test",
  });
});

describe("GET /v1/images/{cacheKey}.{ext}", () => {
  it("serves the object with ETag, immutable caching and its content type", async () => {
    const res = await SELF.fetch(url());
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("etag")).toMatch(/^"[^"]+"$/);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-length")).toBe("1000");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(BYTES);
  });

  it("answers 304 when If-None-Match matches the ETag, 200 otherwise", async () => {
    const etag = (await SELF.fetch(url())).headers.get("etag")!;
    const notModified = await SELF.fetch(url(), { headers: { "if-none-match": etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("etag")).toBe(etag);
    expect(await notModified.text()).toBe("");
    const other = await SELF.fetch(url(), { headers: { "if-none-match": '"something-else"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it("sends Last-Modified; If-Modified-Since at or after it gives 304, before it 200", async () => {
    const first = await SELF.fetch(url());
    await first.arrayBuffer();
    const lastModified = first.headers.get("last-modified")!;
    expect(new Date(lastModified).toUTCString()).toBe(lastModified);
    const same = await SELF.fetch(url(), { headers: { "if-modified-since": lastModified } });
    expect(same.status).toBe(304);
    expect(same.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(await same.text()).toBe("");
    const later = new Date(Date.parse(lastModified) + 3600_000).toUTCString();
    expect((await SELF.fetch(url(), { headers: { "if-modified-since": later } })).status).toBe(304);
    const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    const modified = await SELF.fetch(url(), { headers: { "if-modified-since": earlier } });
    expect(modified.status).toBe(200);
    expect((await modified.arrayBuffer()).byteLength).toBe(1000);
    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    const both = await SELF.fetch(url(), {
      headers: { "if-none-match": '"other"', "if-modified-since": lastModified },
    });
    expect(both.status).toBe(200);
    await both.arrayBuffer();
    // A malformed date is ignored.
    const junk = await SELF.fetch(url(), { headers: { "if-modified-since": "yesterday-ish" } });
    expect(junk.status).toBe(200);
    await junk.arrayBuffer();
  });

  it("If-Match / If-Unmodified-Since that fail give 412 in the envelope; ones that hold serve the image", async () => {
    const first = await SELF.fetch(url());
    await first.arrayBuffer();
    const etag = first.headers.get("etag")!;
    const lastModified = first.headers.get("last-modified")!;
    const failed = await SELF.fetch(url(), { headers: { "if-match": '"not-it"' } });
    expect(failed.status).toBe(412);
    expect((await readError(failed)).code).toBe("precondition_failed");
    const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    expect((await SELF.fetch(url(), { headers: { "if-unmodified-since": earlier } })).status).toBe(412);
    const holding: Record<string, string>[] = [
      { "if-match": etag },
      { "if-match": "*" },
      { "if-unmodified-since": lastModified },
    ];
    for (const headers of holding) {
      const ok = await SELF.fetch(url(), { headers });
      expect(ok.status, JSON.stringify(headers)).toBe(200);
      await ok.arrayBuffer();
    }
  });

  it("If-Range: a matching ETag or date gives 206, any other validator the full 200", async () => {
    const first = await SELF.fetch(url());
    await first.arrayBuffer();
    const etag = first.headers.get("etag")!;
    const lastModified = first.headers.get("last-modified")!;
    for (const ifRange of [etag, lastModified]) {
      const res = await SELF.fetch(url(), { headers: { range: "bytes=0-9", "if-range": ifRange } });
      expect(res.status, ifRange).toBe(206);
      expect((await res.arrayBuffer()).byteLength).toBe(10);
    }
    const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
    for (const ifRange of ['"stale-etag"', `W/${etag}`, older]) {
      const res = await SELF.fetch(url(), { headers: { range: "bytes=0-9", "if-range": ifRange } });
      expect(res.status, ifRange).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(1000);
    }
  });

  it("serves byte ranges with 206 and Content-Range", async () => {
    for (const [range, start, end] of [
      ["bytes=0-99", 0, 99],
      ["bytes=990-", 990, 999],
      ["bytes=-10", 990, 999],
      ["bytes=500-2000", 500, 999],
      ["bytes=-5000", 0, 999],
    ] as const) {
      const res = await SELF.fetch(url(), { headers: { range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get("content-range"), range).toBe(`bytes ${start}-${end}/1000`);
      expect(new Uint8Array(await res.arrayBuffer()), range).toEqual(BYTES.slice(start, end + 1));
    }
  });

  it("answers 416 for a range outside the object", async () => {
    for (const range of ["bytes=5000-6000", "bytes=1000-"]) {
      const res = await SELF.fetch(url(), { headers: { range } });
      expect(res.status, range).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */1000");
      expect((await readError(res)).code).toBe("range_not_satisfiable");
    }
  });

  it("ignores a Range header it does not support (multiple ranges, bad syntax) and serves it all", async () => {
    for (const range of ["bytes=0-1,5-6", "items=0-5", "bytes=9-3"]) {
      const res = await SELF.fetch(url(), { headers: { range } });
      expect(res.status, range).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(1000);
    }
  });

  it("answers HEAD without a body", async () => {
    const res = await SELF.fetch(url(), { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toMatch(/^"/);
    expect(await res.text()).toBe("");
  });

  it("404s in the envelope for an unknown key or a format other than the stored one", async () => {
    for (const target of [url("png", "0".repeat(64)), url("webp"), url("jpeg")]) {
      const res = await SELF.fetch(target);
      expect(res.status, target).toBe(404);
      expect(await readError(res)).toMatchObject({ type: "not_found_error", code: "image_not_found" });
    }
  });
});
