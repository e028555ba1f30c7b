import { describe, expect, it } from "vitest";
import { ScriptRegistry, sha1Hex, stripUpstashFlags } from "../../../infra/upstash-bridge/scripts";

describe("stripUpstashFlags", () => {
  it("drops a shebang whose only flag is allow-key-locking, keeping line numbers", () => {
    const script = "#!lua flags=allow-key-locking\nreturn 1\n";
    expect(stripUpstashFlags(script)).toBe("\nreturn 1\n");
  });

  it("keeps flags Redis understands", () => {
    expect(stripUpstashFlags("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe(
      "#!lua flags=no-writes\nreturn 1",
    );
  });

  it("leaves scripts without the flag byte-for-byte unchanged", () => {
    for (const script of [
      "return 1",
      "#!lua\nreturn 1",
      "#!lua flags=no-writes\nreturn 1",
      "-- #!lua flags=x",
    ]) {
      expect(stripUpstashFlags(script)).toBe(script);
    }
  });
});

describe("ScriptRegistry", () => {
  it("maps the client's hash to the hash of the script Redis received", () => {
    const registry = new ScriptRegistry();
    const original = "#!lua flags=allow-key-locking\nreturn 1";
    const stripped = registry.register(original);
    expect(registry.redisSha(sha1Hex(original))).toBe(sha1Hex(stripped));
    expect(registry.redisSha(sha1Hex(original).toUpperCase())).toBe(sha1Hex(stripped));
  });

  it("passes unknown hashes through so Redis can answer NOSCRIPT", () => {
    expect(new ScriptRegistry().redisSha("abc")).toBe("abc");
  });
});
