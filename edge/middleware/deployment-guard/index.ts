/**
 * Refuses to serve a deployment whose configuration would make it unsafe (today: production without
 * PUBLIC_BASE_URL, where image URLs would have to come from the untrusted Host header). Every request gets
 * 503 in the envelope, and the reason is logged once per isolate, so the deploy's health check fails loudly.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { deploymentProblem, readConfig } from "../../config";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";

export function deploymentGuard(): MiddlewareHandler<AppEnv> {
  let logged = false;
  return async function deploymentGuard(c, next) {
    const problem = deploymentProblem(readConfig(c.env));
    if (problem === null) return next();
    if (!logged) {
      logged = true;
      console.error(JSON.stringify({ level: "error", msg: "deployment_misconfigured", problem }));
    }
    throw new ApiError(
      "service_unavailable",
      "This deployment is misconfigured; the operator has been told",
      {
        code: "deployment_misconfigured",
      },
    );
  };
}
