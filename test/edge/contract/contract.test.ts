/**
 * Contract test driven by /openapi.json: for every documented operation, fast-check generates valid and invalid
 * requests (path, query, body, credentials) against the production app (accounts included) in the Workers
 * runtime, and every answer must be a documented status, match its documented schema (@cfworker/json-schema,
 * which runs in workerd), never be a 5xx, and be in the error envelope when it is an error.
 */

import { env } from "cloudflare:test";
import { Validator } from "@cfworker/json-schema";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { putImage } from "../../../edge/cache/image-store";
import { EDIT_FIXTURES } from "../../fixtures/edits/fixtures";
import { ADMIN_TOKEN, call, generate, installGpu, newCustomer } from "../accounts/support";
import { testImageRequest } from "../support/api";
import { type Schema, SchemaArbitraries } from "./schema-arbitrary";

interface Operation {
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
}

const RUNS = 40;
/** The input image of generated edits requests (a 64x64 PNG). */
const EDIT_IMAGE = Uint8Array.from(atob(EDIT_FIXTURES["photo64.png"]), (ch) => ch.charCodeAt(0));
const IMAGE_KEY = "c".repeat(64);
let doc: Doc;
let arbitraries: SchemaArbitraries;
let customer: Awaited<ReturnType<typeof newCustomer>>;
/** What the admin operations act on: not the customer whose key drives the public operations. */
let adminTarget: Awaited<ReturnType<typeof newCustomer>>;
/** A finished job of `customer`, for the /v1/jobs/{id} operations. */
let jobId: string;

beforeAll(async () => {
  installGpu();
  customer = await newCustomer({
    requests_per_minute: 100_000,
    images_per_day: 1_000_000,
    max_pixels: 4_194_304,
  });
  adminTarget = await newCustomer();
  await putImage(env.IMAGES, IMAGE_KEY, new Uint8Array([137, 80, 78, 71]), "image/png", {
    cacheKeyVersion: "contract",
    ...testImageRequest("contract", 1),
    promptTruncated: false,
    requestId: "req_contract",
  });
  const job = await generate(customer.key, { prompt: "contract job", size: "64x64" }, { prefer: "wait=30" });
  jobId = ((await job.json()) as { id: string }).id;
  const res = await call("/openapi.json");
  doc = (await res.json()) as Doc;
  arbitraries = new SchemaArbitraries(doc as unknown as Schema, {
    plan_id: ["free", "pro", adminTarget.planId],
    size: ["64x64", "128x64", "auto"],
    start: ["2026-01-01", new Date(Date.now() - 86_400_000).toISOString()],
    end: [new Date().toISOString().slice(0, 10)],
    // The webhook endpoint's url (PUT /v1/webhooks/endpoint): a public https one, and one the SSRF guard refuses.
    url: ["https://hooks.example.com/zimage", "https://127.0.0.1/hook"],
  });
});
afterAll(() => vi.restoreAllMocks());

function validate(schema: Schema, value: unknown): string[] {
  const validator = new Validator({ ...schema, components: doc.components } as never, "2020-12", false);
  const result = validator.validate(value);
  return result.valid ? [] : result.errors.map((e) => `${e.instanceLocation}: ${e.error}`);
}

/** Values for path parameters: mostly ones that exist, sometimes not. */
function pathValue(name: string, path: string): fc.Arbitrary<string> {
  const known: Record<string, string[]> = {
    file: [`${IMAGE_KEY}.png`, `${IMAGE_KEY}.webp`, `${"0".repeat(64)}.png`],
    model: [env.MODEL_ID, "dall-e-3"],
    id: path.startsWith("/v1/jobs/")
      ? [jobId, "job_missing"]
      : [adminTarget.accountId, "acct_missing", adminTarget.planId],
    keyId: [adminTarget.keyId, "key_missing"],
  };
  return fc.oneof(fc.constantFrom(...(known[name] ?? ["x"])), fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/));
}

interface Generated {
  path: string;
  query: Record<string, unknown>;
  body:
    | { kind: "none" }
    | { kind: "json"; value: unknown }
    | { kind: "raw"; text: string; type: string }
    // multipart/form-data operations (POST /v1/images/edits): the value's fields as text parts + one image file
    | { kind: "form"; value: unknown };
  credential: "right" | "none" | "wrong";
}

function requestArbitrary(path: string, op: Operation): fc.Arbitrary<Generated> {
  const params = (op.parameters ?? []).filter((p) => p.in === "path");
  const queries = (op.parameters ?? []).filter((p) => p.in === "query");
  const pathArb = fc
    .tuple(...params.map((p) => pathValue(p.name, path)))
    .map((values) =>
      params.reduce((acc, p, i) => acc.replace(`{${p.name}}`, encodeURIComponent(values[i])), path),
    );
  const queryRecord: Record<string, fc.Arbitrary<unknown>> = {};
  for (const q of queries)
    queryRecord[q.name] = fc.oneof(
      { weight: 4, arbitrary: arbitraries.named(q.name, q.schema) },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    );
  const bodySchema = op.requestBody?.content["application/json"]?.schema;
  const formSchema = op.requestBody?.content["multipart/form-data"]?.schema;
  const formArb: fc.Arbitrary<Generated["body"]> | null = formSchema
    ? fc.oneof(
        {
          weight: 3,
          arbitrary: arbitraries.valid(formSchema).map((value) => ({ kind: "form" as const, value })),
        },
        {
          weight: 2,
          arbitrary: arbitraries.invalid(formSchema).map((value) => ({ kind: "form" as const, value })),
        },
        { weight: 1, arbitrary: fc.constant({ kind: "raw" as const, text: "{}", type: "application/json" }) },
      )
    : null;
  const bodyArb: fc.Arbitrary<Generated["body"]> = formArb
    ? formArb
    : bodySchema
      ? fc.oneof(
          {
            weight: 3,
            arbitrary: arbitraries.valid(bodySchema).map((value) => ({ kind: "json" as const, value })),
          },
          {
            weight: 2,
            arbitrary: arbitraries.invalid(bodySchema).map((value) => ({ kind: "json" as const, value })),
          },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              { kind: "raw" as const, text: "{not json", type: "application/json" },
              { kind: "raw" as const, text: "prompt=cat", type: "application/x-www-form-urlencoded" },
              { kind: "raw" as const, text: "", type: "application/json" },
            ),
          },
        )
      : fc.constant({ kind: "none" as const });
  return fc.record({
    path: pathArb,
    query: fc.record(queryRecord, { requiredKeys: [] }),
    body: bodyArb,
    credential: fc.constantFrom("right", "right", "right", "none", "wrong"),
  }) as fc.Arbitrary<Generated>;
}

function credentialFor(op: Operation, which: Generated["credential"]): string | null {
  const scheme = op.security?.[0] ? Object.keys(op.security[0])[0] : null;
  if (!scheme || which === "none") return null;
  if (which === "wrong") return "zi_live_wrongwrongwrongwrongwrongwrong00";
  return scheme === "adminToken" ? ADMIN_TOKEN : customer.key;
}

async function send(method: string, op: Operation, g: Generated): Promise<Response> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(g.query)) if (v !== undefined && v !== null) query.set(k, String(v));
  const headers: Record<string, string> = {};
  const credential = credentialFor(op, g.credential);
  if (credential) headers.authorization = `Bearer ${credential}`;
  let body: string | FormData | undefined;
  if (g.body.kind === "form") {
    const form = new FormData();
    const value = g.body.value;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value))
        if (v !== undefined && v !== null) form.append(k, String(v));
    }
    form.append("image", new File([EDIT_IMAGE], "in.png", { type: "image/png" }));
    body = form;
  } else if (g.body.kind === "json") {
    headers["content-type"] = "application/json";
    body = JSON.stringify(g.body.value);
  } else if (g.body.kind === "raw") {
    headers["content-type"] = g.body.type;
    body = g.body.text;
  }
  const qs = query.size > 0 ? `?${query}` : "";
  return call(`${g.path}${qs}`, { method: method.toUpperCase(), headers, body });
}

describe("every operation of /openapi.json honours its contract", () => {
  it("documents the expected operations", () => {
    const operations = Object.entries(doc.paths).flatMap(([p, m]) => Object.keys(m).map((k) => `${k} ${p}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        "post /v1/images/generations",
        "get /v1/images/{file}",
        "get /v1/models",
        "get /v1/models/{model}",
        "get /v1/usage",
        "get /healthz",
        "post /v1/admin/accounts",
        "put /v1/admin/plans/{id}",
        "get /v1/admin/backends",
        "post /v1/images/edits",
        "get /v1/jobs",
        "get /v1/jobs/{id}",
        "get /v1/jobs/{id}/events",
        "post /v1/jobs/{id}/cancel",
        "get /v1/webhooks/secret",
        "post /v1/webhooks/secret/rotate",
        "get /v1/webhooks/endpoint",
        "put /v1/webhooks/endpoint",
        "delete /v1/webhooks/endpoint",
      ]),
    );
  });

  it("answers every generated request with a documented status, schema and envelope", async () => {
    const seen: Record<string, Set<number>> = {};
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const statuses = new Set<number>();
        seen[`${method.toUpperCase()} ${path}`] = statuses;
        await fc.assert(
          fc.asyncProperty(requestArbitrary(path, op), async (g) => {
            const res = await send(method, op, g);
            statuses.add(res.status);
            const label = `${method.toUpperCase()} ${g.path} -> ${res.status}`;
            expect(res.status, label).toBeLessThan(500);
            const documented = op.responses[String(res.status)];
            expect(documented, `${label} is not documented`).toBeDefined();
            expect(res.headers.get("x-request-id"), label).toBeTruthy();
            const type = (res.headers.get("content-type") ?? "").split(";")[0];
            const schema =
              documented.content?.[type]?.schema ?? documented.content?.["application/json"]?.schema;
            if (type === "application/json") {
              const json = await res.json();
              if (res.status >= 400) {
                expect(validate({ $ref: "#/components/schemas/ErrorEnvelope" }, json), label).toEqual([]);
              }
              if (schema)
                expect(validate(schema, json), `${label} ${JSON.stringify(json).slice(0, 300)}`).toEqual([]);
            } else {
              await res.arrayBuffer();
            }
          }),
          // A fixed seed: the same requests on every run (fast-check prints the seed and path of a failure).
          { numRuns: RUNS, seed: 20261201 },
        );
      }
    }
    console.log(JSON.stringify(Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v].sort()]))));
    // The generators reach both sides of every operation: some request succeeds and some is refused.
    for (const [operation, statuses] of Object.entries(seen)) {
      expect(
        [...statuses].some((s) => s < 300),
        `${operation} never succeeded`,
      ).toBe(true);
      // Public operations without parameters (healthz) have nothing to refuse.
      if (operation !== "GET /healthz") {
        expect(
          [...statuses].some((s) => s >= 400),
          `${operation} never refused`,
        ).toBe(true);
      }
    }
  });
});
