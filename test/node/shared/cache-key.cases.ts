/**
 * cacheKey and seed cases, run both in Node (test/node/shared) and in workerd (test/edge/shared):
 * shared/ must give identical answers in both runtimes.
 */
import { describe, expect, it } from "vitest";
import { type CanonicalImageRequest, cacheKey, canonicalString } from "../../../shared/cache-key";
import { deriveSeed, randomSeed } from "../../../shared/seed";

const base: CanonicalImageRequest = {
  modelRevision: "zimage-turbo@sha256:0123abcd",
  prompt: "a lighthouse at dawn, watercolor",
  negativePrompt: "",
  width: 1024,
  height: 1024,
  steps: 8,
  guidanceScale: 0,
  seed: 42,
  outputFormat: "png",
  outputQuality: null,
};

/** Fixed vectors: change them only together with CACHE_KEY_VERSION. */
export const CACHE_KEY_VECTORS: { input: CanonicalImageRequest; canonical: string; key: string }[] = [
  {
    input: base,
    canonical:
      '["zi-cache-v2","zimage-turbo@sha256:0123abcd","a lighthouse at dawn, watercolor","",1024,1024,8,0,42,"png",null]',
    key: "7f8e21868809826de629cad594a16a92d62753c6132e36b1e3ae02e6ba3e16c6",
  },
  {
    // Decomposed "é" and surrounding whitespace: NFC + trim give the same canonical text as "Café ☕ 東京 — 雨".
    input: {
      ...base,
      prompt: "  Cafe\u0301 ☕ 東京 — 雨\n",
      negativePrompt: " blurry, low quality ",
      width: 768,
      height: 1344,
      steps: 9,
      guidanceScale: 3.5,
      seed: 9007199254740991,
      outputFormat: "webp",
      outputQuality: 80,
    },
    canonical:
      '["zi-cache-v2","zimage-turbo@sha256:0123abcd","Café ☕ 東京 — 雨","blurry, low quality",768,1344,9,3.5,9007199254740991,"webp",80]',
    key: "051ace7980ba5144dd9db6ad717577c506074530e964394226b72110faf9da02",
  },
  {
    input: { ...base, seed: 0, outputFormat: "jpeg", guidanceScale: 0.1, outputQuality: 100 },
    canonical:
      '["zi-cache-v2","zimage-turbo@sha256:0123abcd","a lighthouse at dawn, watercolor","",1024,1024,8,0.1,0,"jpeg",100]',
    key: "7f4f78fee33b22777b8684716a394e0f7de20c35bb7a3573038423280cc99753",
  },
];

export function cacheKeyCases(): void {
  describe("cacheKey", () => {
    it.each(CACHE_KEY_VECTORS)("matches its fixed vector ($key)", async ({ input, canonical, key }) => {
      expect(canonicalString(input)).toBe(canonical);
      expect(await cacheKey(input)).toBe(key);
    });

    it("ignores JSON key order and number spelling", async () => {
      const a = JSON.parse('{"seed":42,"guidanceScale":0.0,"steps":8.0,"width":1024,"height":1.024e3}');
      const b = JSON.parse('{"height":1024,"width":1024,"steps":8,"guidanceScale":-0,"seed":4.2e1}');
      expect(await cacheKey({ ...base, ...a })).toBe(await cacheKey({ ...base, ...b }));
      expect(await cacheKey({ ...base, ...a })).toBe(CACHE_KEY_VECTORS[0].key);
    });

    it("changes when any field changes", async () => {
      const changes: Partial<CanonicalImageRequest>[] = [
        { modelRevision: "zimage-turbo@sha256:0123abce" },
        { prompt: "a lighthouse at dusk, watercolor" },
        { prompt: "A lighthouse at dawn, watercolor" },
        { negativePrompt: "blurry" },
        { width: 1008 },
        { height: 1008 },
        { steps: 9 },
        { guidanceScale: 0.5 },
        { seed: 43 },
        { outputFormat: "webp" },
      ];
      const keys = await Promise.all(changes.map((change) => cacheKey({ ...base, ...change })));
      expect(new Set([CACHE_KEY_VECTORS[0].key, ...keys]).size).toBe(changes.length + 1);
    });

    it("keeps field boundaries (no ambiguity between prompt and negative prompt)", async () => {
      const one = await cacheKey({ ...base, prompt: "a b", negativePrompt: "c" });
      const two = await cacheKey({ ...base, prompt: "a", negativePrompt: "b c" });
      expect(one).not.toBe(two);
    });
  });

  describe("seeds", () => {
    const inputs = { ...base };
    it("derives a fixed 32-bit seed from the canonical prompt and parameters", async () => {
      expect(await deriveSeed(inputs)).toBe(3457400274);
      expect(await deriveSeed(CACHE_KEY_VECTORS[1].input)).toBe(4188194272);
    });

    it("normalizes text first and ignores output format and model revision", async () => {
      expect(await deriveSeed({ ...inputs, prompt: ` ${inputs.prompt}\t` })).toBe(3457400274);
      expect(
        await deriveSeed({ ...inputs, outputFormat: "webp", modelRevision: "other" } as typeof inputs),
      ).toBe(3457400274);
    });

    it("changes with the prompt or parameters", async () => {
      const seeds = await Promise.all([
        deriveSeed({ ...inputs, prompt: "another prompt" }),
        deriveSeed({ ...inputs, steps: 9 }),
        deriveSeed({ ...inputs, width: 512 }),
      ]);
      expect(seeds).not.toContain(3457400274);
    });

    it("draws random seeds in 0..2^32-1", () => {
      const seeds = Array.from({ length: 50 }, randomSeed);
      expect(seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 32)).toBe(true);
      expect(new Set(seeds).size).toBeGreaterThan(45);
    });
  });
}
