/**
 * POST /v1/images/edits (OpenAI-compatible, multipart/form-data): image-to-image on Z-Image-Turbo.
 * form -> fields validated (editRequestSchema) -> the one input image decoded and normalised in the Worker
 * (edge/images-input) -> the same plan, cache, single flight, failover and response as generations
 * (planGeneration with `init`, answerPlan), so idempotency, limits and metering apply unchanged.
 * `mask` is refused (no inpainting yet); several images (`image[]` with more than one) too.
 * @module
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { editRequestSchema, generationResponseSchema, SIZE_MULTIPLE } from "../../../shared/api";
import { errorEnvelopeSchema } from "../../../shared/errors";
import { type EdgeConfig, readConfig } from "../../config";
import { ApiError } from "../../errors";
import { planGeneration } from "../../generation/plan";
import { MAX_INPUT_IMAGE_BYTES, normalizeInputImage } from "../../images-input";
import { readEditForm } from "../../images-input/form";
import type { AppEnv } from "../../types";
import { validationError } from "../../validation";
import { answerRequest } from "./generate";

export const EDITS_PATH = "/v1/images/edits";
/** The image plus the text fields; the fields are small. */
export const MAX_EDIT_BODY_BYTES = MAX_INPUT_IMAGE_BYTES + 256 * 1024;

/**
 * `size: "auto"`: the input's size (as diffusers with height/width unset), scaled to fit the deployment's
 * side limits if needed (aspect kept: down to the largest side, up to the smallest), each side then rounded
 * down to a multiple of 16.
 */
export function autoSize(
  width: number,
  height: number,
  config: EdgeConfig,
): { width: number; height: number } {
  let scale = Math.min(1, config.maxImageSide / Math.max(width, height));
  if (Math.min(width, height) * scale < config.minImageSide)
    scale = config.minImageSide / Math.min(width, height);
  const clampSide = (side: number) => {
    const s = Math.floor((side * scale) / SIZE_MULTIPLE) * SIZE_MULTIPLE;
    return Math.min(config.maxImageSide, Math.max(config.minImageSide, s));
  };
  return { width: clampSide(width), height: clampSide(height) };
}

/** Body bound before the form is read (413), on Content-Length and on the streamed body. */
export const editsBodyLimit = bodyLimit({
  maxSize: MAX_EDIT_BODY_BYTES,
  onError: () => {
    throw new ApiError("invalid_request_error", `Request body is larger than ${MAX_EDIT_BODY_BYTES} bytes`, {
      status: 413,
      code: "body_too_large",
    });
  },
});

export async function editImages(c: Context<AppEnv>): Promise<Response> {
  const form = await readEditForm(c);
  if (form.hasMask) {
    throw new ApiError(
      "invalid_request_error",
      "mask is not supported yet: this model edits the whole image (image-to-image); send no mask",
      { param: "mask", code: "mask_not_supported" },
    );
  }
  const parsed = editRequestSchema.safeParse(form.fields);
  if (!parsed.success) throw validationError(parsed.error);
  const body = parsed.data;
  if (form.images.length === 0) {
    throw new ApiError("invalid_request_error", "image is required: send one PNG, JPEG or WebP file part", {
      param: "image",
      code: "missing_image",
    });
  }
  if (form.images.length > 1) {
    throw new ApiError(
      "invalid_request_error",
      `${form.images.length} images were sent; Z-Image image-to-image takes exactly one`,
      { param: "image", code: "too_many_images" },
    );
  }
  const input = await normalizeInputImage(new Uint8Array(await form.images[0].arrayBuffer()));
  const config = readConfig(c.env);
  const size = body.size === "auto" ? autoSize(input.width, input.height, config) : null;
  const plan = await planGeneration(
    { ...body, size: size ? `${size.width}x${size.height}` : body.size },
    config,
    c.var.requestId,
    { image: input, strength: body.strength },
  );
  // Stream (image_edit.* events), job (its input kept in R2 until it ends) or sync, exactly as generations.
  return answerRequest(c, body, plan, "image_edit");
}

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelopeSchema } },
});

/** OpenAPI description (the handler is mounted directly: the body is multipart, read by readEditForm). */
export const editImagesDoc: RouteConfig = {
  method: "post",
  path: EDITS_PATH,
  summary: "Edit an image: image-to-image (OpenAI-compatible multipart)",
  request: {
    body: {
      required: true,
      content: {
        "multipart/form-data": {
          schema: editRequestSchema.extend({}).meta({
            description: "Fields as text parts, plus one file part `image` (or `image[]`): PNG, JPEG or WebP",
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description:
        "Images, each with its seed; `x-cache` says whether they came from the cache. With `stream: true`: " +
        "server-sent events (image_edit.partial_image / .completed, docs/streaming-jobs-webhooks.md)",
      content: {
        "application/json": { schema: generationResponseSchema },
        "text/event-stream": { schema: z.string() },
      },
    },
    400: errorResponse(
      "Invalid request, image or parameters (codes: invalid_image, image_too_many_pixels, ...)",
    ),
    413: errorResponse("Body or image too large (image_too_large, body_too_large)"),
    415: errorResponse("Content-Type is not multipart/form-data"),
    502: errorResponse("A GPU backend rejected the request"),
    503: errorResponse("No GPU backend available; see Retry-After"),
  },
};
