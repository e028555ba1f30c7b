/**
 * Reads and validates a JSON body for the admin API.
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { validationError } from "../../validation";

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
