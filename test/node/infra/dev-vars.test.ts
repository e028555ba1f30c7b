import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureDevVars, formatVars, parseVars, readDevVars, SECRET_KEYS } from "../../../infra/dev/dev-vars";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "dev-vars-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("local stack configuration (.dev.vars)", () => {
  it("parses KEY=VALUE lines, skipping comments and removing one level of quotes", () => {
    expect(parseVars("# c\nA=1 # note\n\nB=\"two words\"\nC='x=y'\nnot a pair\n")).toEqual({
      A: "1",
      B: "two words",
      C: "x=y",
    });
    const vars = { A: "plain", B: "with space", C: 'q"uote', D: "it's", E: "a=b#c" };
    expect(parseVars(formatVars(vars))).toEqual(vars);
    expect(() => formatVars({ X: "both ' and \"" })).toThrow(/cannot be written/);
  });

  it("creates .dev.vars from the example with fresh secrets, private to the user, once", () => {
    const example = join(dir, ".dev.vars.example");
    const target = join(dir, ".dev.vars");
    writeFileSync(
      example,
      "GPU_HMAC_SECRET=change-me\nCACHE_KEY_SECRET=change-me\nADMIN_TOKEN=change-me\nUPSTASH_REDIS_REST_URL=http://127.0.0.1:8079\nUPSTASH_REDIS_REST_TOKEN=change-me\n",
    );
    expect(ensureDevVars(target, example)).toBe(true);
    const first = parseVars(readFileSync(target, "utf8"));
    expect(first.UPSTASH_REDIS_REST_URL).toBe("http://127.0.0.1:8079");
    for (const key of SECRET_KEYS) expect(first[key]).toMatch(/^[\w-]{32}$/);
    expect(new Set(SECRET_KEYS.map((key) => first[key])).size).toBe(SECRET_KEYS.length);
    expect(statSync(target).mode & 0o777).toBe(0o600);

    expect(ensureDevVars(target, example)).toBe(false);
    expect(parseVars(readFileSync(target, "utf8"))).toEqual(first);
  });

  it("adds a generated value for a secret an older .dev.vars lacks, keeping the rest", () => {
    const target = join(dir, ".dev.vars");
    writeFileSync(target, "GPU_HMAC_SECRET=kept-1\nADMIN_TOKEN=kept-2\nUPSTASH_REDIS_REST_TOKEN=kept-3\nX=y");
    expect(ensureDevVars(target, join(dir, "unused.example"))).toBe(true);
    const vars = parseVars(readFileSync(target, "utf8"));
    expect(vars).toMatchObject({ GPU_HMAC_SECRET: "kept-1", ADMIN_TOKEN: "kept-2", X: "y" });
    expect(vars.CACHE_KEY_SECRET).toMatch(/^[\w-]{32}$/);
    expect(ensureDevVars(target, join(dir, "unused.example"))).toBe(false);
  });

  it("lets the environment override keys the file names", () => {
    const target = join(dir, ".dev.vars");
    writeFileSync(target, "ADMIN_TOKEN=from-file\nOTHER=kept\n");
    expect(readDevVars(target, { ADMIN_TOKEN: "from-env", UNRELATED: "x" })).toEqual({
      ADMIN_TOKEN: "from-env",
      OTHER: "kept",
    });
  });
});
