/**
 * Turns zod validation failures into the error envelope (400, `param` = the offending field), and reads a JSON body
 * against a schema for the routes that are plain Hono handlers (admin API, webhook endpoint).
 * @module
 */
import type { Hook } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "./errors";
import type { AppEnv } from "./types";

export function validationError(error: z.ZodError): ApiError {
  const issue = error.issues[0];
  const path = issue?.path.map(String) ?? [];
  let param = path.length > 0 ? path.join(".") : null;
  let message = issue?.message ?? "Invalid request";
  if (issue?.code === "unrecognized_keys") {
    param = issue.keys[0] ?? param;
    message = `Unrecognized request argument(s): ${issue.keys.join(", ")}`;
  } else if (param) {
    message = `${param}: ${message}`;
  }
  return new ApiError("invalid_request_error", message, { param, code: issue?.code ?? "invalid_request" });
}

/** defaultHook for OpenAPIHono: every validation failure becomes a 400 in the envelope. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) throw validationError(result.error as z.ZodError);
};

/** The request's JSON body, validated: 400 `invalid_json` when it is not JSON, else the schema's first issue. */
export async function readBody<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.infer<T>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError("invalid_request_error", "Body must be a JSON object", { code: "invalid_json" });
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}
