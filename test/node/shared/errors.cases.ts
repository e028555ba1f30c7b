/** Error envelope and protocol schema cases, run in Node and in workerd. */
import { describe, expect, it } from "vitest";
import { generationRequestSchema, parseSize } from "../../../shared/api";
import { errorBody, errorEnvelopeSchema } from "../../../shared/errors";
import { inferRequestSchema } from "../../../shared/protocol";

export function errorCases(): void {
  describe("error envelope", () => {
    it("has the OpenAI shape with null defaults", () => {
      expect(errorBody("rate_limit_error", "slow down")).toEqual({
        error: { message: "slow down", type: "rate_limit_error", param: null, code: null },
      });
      const body = errorBody("invalid_request_error", "bad n", { param: "n", code: "too_big" });
      expect(errorEnvelopeSchema.parse(body)).toEqual(body);
      expect(errorEnvelopeSchema.safeParse({ error: { message: "x", type: "teapot" } }).success).toBe(false);
    });
  });

  describe("schemas", () => {
    it("fills public defaults", () => {
      expect(generationRequestSchema.parse({ prompt: "a cat" })).toEqual({
        prompt: "a cat",
        n: 1,
        size: "auto",
        quality: "auto",
        response_format: "url",
        output_format: "png",
        background: "auto",
        moderation: "auto",
        stream: false,
        partial_images: 0,
        webhook_events: "completed",
        guidance_scale: 0,
        negative_prompt: "",
        embed_metadata: false,
      });
      // OpenAI marks every option nullable: null is the default.
      const nulls = Object.fromEntries(
        ["n", "size", "quality", "response_format", "output_format", "output_compression", "background"]
          .concat(["moderation", "style", "user", "stream", "partial_images", "seed", "steps", "model"])
          .concat(["webhook_url", "webhook_events"])
          .concat(["guidance_scale", "negative_prompt"])
          .map((k) => [k, null]),
      );
      const parsed = generationRequestSchema.parse({ prompt: "a cat", ...nulls });
      expect(parsed).toMatchObject(generationRequestSchema.parse({ prompt: "a cat" }));
      expect(parseSize("auto")).toEqual({ width: 1024, height: 1024 });
      expect(parseSize("768x1344")).toEqual({ width: 768, height: 1344 });
      expect(parseSize("768*1344")).toBeNull();
    });

    it("bounds the GPU protocol", () => {
      const ok = {
        request_id: "r",
        prompt: "p",
        width: 64,
        height: 64,
        steps: 8,
        guidance_scale: 0,
        seed: 2 ** 53 - 1,
        output_format: "png",
      };
      expect(inferRequestSchema.parse(ok).negative_prompt).toBe("");
      for (const bad of [
        { steps: 0 },
        { steps: 51 },
        { seed: 2 ** 53 },
        { seed: -1 },
        { guidance_scale: -0.1 },
        { quality: 0 },
      ]) {
        expect(inferRequestSchema.safeParse({ ...ok, ...bad }).success, JSON.stringify(bad)).toBe(false);
      }
    });
  });
}
