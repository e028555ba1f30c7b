/**
 * Turns zod validation failures into the error envelope (400, `param` = the offending field).
 * @module
 */
import type { Hook } from "@hono/zod-openapi";
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
