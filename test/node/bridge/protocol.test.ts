import { Redis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { sha1Hex } from "../../../infra/upstash-bridge/scripts";
import { BRIDGE_TOKEN, useBridgeFixture } from "./bridge-fixture";

const bridge = useBridgeFixture();

type RestReply = { result?: unknown; error?: string };

async function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await post(path, body, headers);
  return { status: res.status, body: (await res.json()) as RestReply };
}

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${bridge.fixture.bridge.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${BRIDGE_TOKEN}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

describe("authentication", () => {
  it("answers 401 for a missing or wrong token", async () => {
    const none = await fetch(`${bridge.fixture.bridge.url}/`, { method: "POST", body: '["PING"]' });
    expect(none.status).toBe(401);
    const wrong = await post("/", ["PING"], { authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: "Unauthorized" });
    const client = new Redis({ url: bridge.fixture.bridge.url, token: "nope", retry: false });
    await expect(client.get("x")).rejects.toThrow(/Unauthorized/);
  });
});

describe("wire format", () => {
  it("base64-encodes every string, recursively, only when asked", async () => {
    await post("/", ["RPUSH", "wire:list", "héllo", "42"]);
    const plain = await (await post("/", ["LRANGE", "wire:list", 0, -1])).json();
    expect(plain).toEqual({ result: ["héllo", "42"] });
    const encoded = await (
      await post("/", ["LRANGE", "wire:list", 0, -1], { "upstash-encoding": "base64" })
    ).json();
    expect(encoded).toEqual({
      result: [Buffer.from("héllo").toString("base64"), Buffer.from("42").toString("base64")],
    });
    const count = await (await post("/", ["LLEN", "wire:list"], { "upstash-encoding": "base64" })).json();
    expect(count).toEqual({ result: 2 });
    const missing = await (await post("/", ["GET", "wire:none"], { "upstash-encoding": "base64" })).json();
    expect(missing).toEqual({ result: null });
  });

  it("keeps binary values intact", async () => {
    const bytes = Buffer.from([0, 255, 128, 10, 13]);
    // JSON transports text, so write the bytes through a Lua string instead and read them back as base64.
    await post("/", [
      "EVAL",
      "return redis.call('SET', KEYS[1], string.char(0, 255, 128, 10, 13))",
      1,
      "wire:bin",
    ]);
    const reply = await postJson("/", ["GET", "wire:bin"], { "upstash-encoding": "base64" });
    expect(Buffer.from(reply.body.result as string, "base64")).toEqual(bytes);
  });

  it("reports command errors as {error} with status 400", async () => {
    const res = await postJson("/", ["INCR", "wire:list"]);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/WRONGTYPE/);
  });

  it("refuses commands that would block the shared connection", async () => {
    const res = await postJson("/", ["BLPOP", "wire:q", 0]);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/not supported/);
  });

  it("answers path-style commands", async () => {
    await fetch(`${bridge.fixture.bridge.url}/set/wire:path/hi%20there`, {
      headers: { authorization: `Bearer ${BRIDGE_TOKEN}` },
    });
    expect(await bridge.redis.get("wire:path")).toBe("hi there");
  });
});

describe("@upstash/redis through the bridge", () => {
  it("round-trips strings, JSON values, numbers, hashes and sets", async () => {
    await bridge.redis.set("c:str", "plain text");
    await bridge.redis.set("c:obj", { a: 1, b: ["x"] });
    expect(await bridge.redis.get("c:str")).toBe("plain text");
    expect(await bridge.redis.get("c:obj")).toEqual({ a: 1, b: ["x"] });
    expect(await bridge.redis.incrby("c:n", 5)).toBe(5);
    await bridge.redis.hset("c:h", { f1: "v1", f2: 2 });
    expect(await bridge.redis.hgetall("c:h")).toEqual({ f1: "v1", f2: 2 });
    await bridge.redis.sadd("c:s", "a", "b");
    expect((await bridge.redis.smembers("c:s")).sort()).toEqual(["a", "b"]);
    expect(await bridge.redis.get("c:missing")).toBeNull();
    expect(await bridge.redis.set("c:nx", "1", { nx: true, ex: 60 })).toBe("OK");
    expect(await bridge.redis.set("c:nx", "2", { nx: true, ex: 60 })).toBeNull();
  });

  it("runs explicit pipelines in order with per-command errors", async () => {
    await bridge.redis.set("p:str", "text");
    const results = await bridge.redis
      .pipeline()
      .set("p:a", "1")
      .incr("p:a")
      .incr("p:str")
      .get("p:a")
      .exec({ keepErrors: true });
    expect(results.map((r) => r.error ?? null)).toEqual([
      null,
      null,
      expect.stringMatching(/not an integer/),
      null,
    ]);
    expect(results[3].result).toBe(2);
  });

  it("runs /multi-exec transactions atomically", async () => {
    const results = await bridge.redis.multi().set("m:a", "1").incrby("m:a", 9).get("m:a").exec();
    expect(results).toEqual(["OK", 10, 10]);
    const aborted = await post("/multi-exec", [["SET", "m:b", "1"], ["NOSUCHCOMMAND"]]);
    expect(aborted.status).toBe(400);
    expect(await bridge.redis.get("m:b")).toBeNull();
  });

  it("answers NOSCRIPT for unknown hashes so clients fall back to EVAL", async () => {
    await expect(bridge.redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it("accepts allow-key-locking scripts and serves EVALSHA under the client's own hash", async () => {
    const script = "#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])";
    expect(await bridge.redis.eval(script, ["s:k"], ["3"])).toBe(3);
    expect(await bridge.redis.evalsha(sha1Hex(script), ["s:k"], ["4"])).toBe(7);
    expect(await bridge.redis.scriptExists(sha1Hex(script))).toEqual([1]);

    const loaded = "#!lua flags=allow-key-locking\nreturn 'loaded'";
    expect(await bridge.redis.scriptLoad(loaded)).toBe(sha1Hex(loaded));
    expect(await bridge.redis.evalsha(sha1Hex(loaded), [], [])).toBe("loaded");
  });
});
