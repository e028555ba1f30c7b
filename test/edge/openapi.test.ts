import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ORIGIN } from "./support/api";

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: {
    schemas: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean }>;
  };
}

describe("GET /openapi.json", () => {
  it("documents the public routes from the validating schemas", async () => {
    const res = await SELF.fetch(`${ORIGIN}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApiDoc;
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths["/v1/images/generations"])).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/images/generations"].post.responses)).toEqual(
      expect.arrayContaining(["200", "400", "413", "415", "503"]),
    );
    expect(Object.keys(doc.paths["/v1/images/{file}"])).toEqual(["get"]);
    expect(Object.keys(doc.paths["/v1/models"])).toEqual(["get"]);
    const request = doc.components.schemas.ImageGenerationRequest;
    expect(Object.keys(request.properties ?? {})).toEqual(
      expect.arrayContaining(["prompt", "n", "size", "response_format", "output_format", "seed", "steps"]),
    );
    expect(request.additionalProperties).toBe(false);
    expect(doc.components.schemas.ErrorEnvelope).toBeDefined();
  });
});
