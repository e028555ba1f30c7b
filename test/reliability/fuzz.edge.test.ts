/**
 * Mutation fuzz of POST /v1/images/generations on the production app (accounts included) in workerd, with real
 * D1/R2/Durable Objects and Redis behind the bridge, and a healthy scripted GPU: a few thousand bodies derived
 * from a valid one (fields dropped, retyped, out of range, unknown fields, broken JSON, wrong methods). Nothing
 * may answer 5xx, and every error must be the one documented envelope.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { errorEnvelopeSchema } from "../../shared/errors";
import { call, installGpu, newCustomer } from "../edge/accounts/support";

const VALID = {
  prompt: "a lighthouse at dawn, watercolor",
  n: 1,
  size: "64x64",
  response_format: "url",
  output_format: "png",
  seed: 7,
  steps: 2,
  guidance_scale: 0,
  negative_prompt: "",
  embed_metadata: false,
};
const FIELDS = [
  ...Object.keys(VALID),
  "model",
  "quality",
  "output_compression",
  "background",
  "user",
  "stream",
];

/** Any JSON-ish value, biased towards the edges validation has to get right. */
const anyValue = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 53,
    -(2 ** 53),
    1e308,
    "",
    " ",
    "random",
    "auto",
    "\u0000",
  ),
  fc.constantFrom("64x64", "16x16", "4096x4096", "65x64", "0x0", "99999x99999", "64*64", "1024x1024"),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);

type Mutation =
  | { kind: "set"; field: string; value: unknown }
  | { kind: "drop"; field: string }
  | { kind: "extra"; field: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), field: fc.constantFrom(...FIELDS), value: anyValue }),
  fc.record({ kind: fc.constant("drop" as const), field: fc.constantFrom(...FIELDS) }),
  fc.record({ kind: fc.constant("extra" as const), field: fc.string({ maxLength: 12 }), value: anyValue }),
);

/** A body text: the valid object with 1-4 mutations, or raw text (broken JSON, non-objects). */
const bodyText = fc.oneof(
  { weight: 8, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }).map(apply) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom("", "{", "[]", "null", '"x"', "1", '{"prompt":', JSON.stringify(VALID).slice(0, 30)),
      fc.json(),
    ),
  },
);

function apply(mutations: Mutation[]): string {
  const body: Record<string, unknown> = { ...VALID };
  for (const m of mutations) {
    if (m.kind === "drop") delete body[m.field];
    else body[m.field] = m.value;
  }
  return JSON.stringify(body);
}

const methods = fc.oneof(
  { weight: 9, arbitrary: fc.constant("POST") },
  { weight: 1, arbitrary: fc.constantFrom("PUT", "PATCH", "DELETE", "OPTIONS") },
);
const contentType = fc.oneof(
  { weight: 9, arbitrary: fc.constant("application/json") },
  { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/json; charset=utf-8", "") },
);

let key: string;

beforeAll(async () => {
  installGpu();
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "error").mockImplementation(() => {});
  ({ key } = await newCustomer({
    requests_per_minute: 100_000,
    images_per_day: 1_000_000,
    max_pixels: 1024 * 1024,
  }));
});

afterAll(() => vi.restoreAllMocks());

const RUNS = 2500;

describe("mutation fuzz of the generation body", () => {
  it(`${RUNS} mutated bodies and methods: no 5xx, every error in the envelope`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(bodyText, methods, contentType, async (text, method, type) => {
        const headers: Record<string, string> = { authorization: `Bearer ${key}` };
        if (type) headers["content-type"] = type;
        const res = await call("/v1/images/generations", { method, headers, body: text });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const raw = await res.text();
        expect(res.status, raw).toBeLessThan(500);
        if (method !== "POST" && method !== "OPTIONS") expect(res.status).toBe(405);
        if (res.status >= 400) {
          expect(errorEnvelopeSchema.safeParse(JSON.parse(raw)).success, raw).toBe(true);
        }
      }),
      { numRuns: RUNS, seed: 13 },
    );
    // The fuzz reached both the route (200s) and validation (400s), not only one gate.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    console.info(`fuzz statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  }, 240_000);
});
