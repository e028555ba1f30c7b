/**
 * The multipart/form-data body of POST /v1/images/edits, parsed once per request and shared by the route and
 * the accounts middleware (image quota, Idempotency-Key fingerprint), which run before it.
 * OpenAI's SDKs send every field as a text part and the image(s) as file parts named `image` (or `image[]`).
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import { editRequestSchema } from "../../shared/api";
import { sha256Hex } from "../../shared/hmac";
import { ApiError } from "../errors";

/** The base types a field's schema accepts, under its default/nullable/transform wrappers and unions. */
function baseTypes(schema: z.ZodType): string[] {
  const def = schema._zod.def as {
    type: string;
    innerType?: z.ZodType;
    in?: z.ZodType;
    options?: z.ZodType[];
  };
  if (def.innerType) return baseTypes(def.innerType);
  if (def.type === "pipe" && def.in) return baseTypes(def.in);
  if (def.type === "union" && def.options) return def.options.flatMap(baseTypes);
  return [def.type];
}

// Multipart has only strings: the fields the schema types as numbers or booleans are converted first (read off
// the schema, so a new field cannot be forgotten here).
const fieldTypes = Object.entries(editRequestSchema.shape).map(
  ([name, schema]) => [name, baseTypes(schema)] as const,
);
const NUMERIC = new Set(fieldTypes.filter(([, types]) => types.includes("number")).map(([name]) => name));
const BOOLEAN = new Set(fieldTypes.filter(([, types]) => types.includes("boolean")).map(([name]) => name));
export const IMAGE_FIELDS = ["image", "image[]"] as const;
export const MASK_FIELDS = ["mask", "mask[]"] as const;

export interface EditForm {
  /** Text fields, numbers and booleans converted (the schema validates them). */
  fields: Record<string, unknown>;
  /** File parts named image / image[], in order. */
  images: File[];
  /** True when a mask part was sent (refused until inpainting exists). */
  hasMask: boolean;
}

const forms = new WeakMap<object, Promise<EditForm>>();

/** Parses (once) and returns the request's edit form; 415 when the body is not multipart/form-data. */
export function readEditForm(c: Context): Promise<EditForm> {
  let form = forms.get(c.req);
  if (!form) {
    form = parse(c);
    forms.set(c.req, form);
  }
  return form;
}

async function parse(c: Context): Promise<EditForm> {
  const type = c.req.header("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(type)) {
    throw new ApiError(
      "invalid_request_error",
      "Content-Type must be multipart/form-data (as OpenAI's images.edit sends it)",
      {
        status: 415,
        code: "unsupported_media_type",
      },
    );
  }
  // From Hono's body cache (bufferBody may have read it already), re-parsed with the original boundary.
  const bytes = await c.req.arrayBuffer();
  let data: FormData;
  try {
    data = await new Request("http://form.invalid/", {
      method: "POST",
      headers: { "content-type": type },
      body: bytes,
    }).formData();
  } catch {
    throw new ApiError("invalid_request_error", "body is not valid multipart/form-data", {
      code: "invalid_multipart",
    });
  }
  const fields: Record<string, unknown> = {};
  const images: File[] = [];
  let hasMask = false;
  for (const [name, value] of data.entries()) {
    if ((IMAGE_FIELDS as readonly string[]).includes(name)) {
      if (typeof value === "string") {
        throw new ApiError("invalid_request_error", `${name} must be a file part, not text`, {
          param: "image",
          code: "invalid_image",
        });
      }
      images.push(value);
      continue;
    }
    if ((MASK_FIELDS as readonly string[]).includes(name)) {
      hasMask = true;
      continue;
    }
    if (typeof value !== "string") {
      throw new ApiError("invalid_request_error", `${name} must be a text field`, {
        param: name,
        code: "invalid_parameter",
      });
    }
    if (name in fields) {
      throw new ApiError("invalid_request_error", `${name} was sent more than once`, {
        param: name,
        code: "duplicate_parameter",
      });
    }
    fields[name] = convert(name, value);
  }
  return { fields, images, hasMask };
}

function convert(name: string, value: string): unknown {
  // A value that is not a number stays text: the schema names the error, or accepts it (seed "random").
  if (NUMERIC.has(name)) {
    const n = Number(value);
    return value.trim() === "" || Number.isNaN(n) ? value : n;
  }
  if (BOOLEAN.has(name)) return value === "true" ? true : value === "false" ? false : value;
  return value;
}

/**
 * What identifies an edit request for Idempotency-Key: its fields and the SHA-256 of each file, not the raw
 * bytes (the multipart boundary is random per send, so a retried request has other bytes).
 */
export async function editFingerprint(c: Context): Promise<string> {
  const { fields, images } = await readEditForm(c);
  const files = await Promise.all(images.map(async (f) => sha256Hex(new Uint8Array(await f.arrayBuffer()))));
  const sorted = Object.keys(fields)
    .sort()
    .map((k) => [k, fields[k]]);
  return JSON.stringify({ fields: sorted, images: files });
}
