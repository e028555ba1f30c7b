/**
 * 405 before anything else runs. hono/method-not-allowed turns a 404 into a 405 *after* the chain, so a PUT or
 * a GET with a body on `/v1/images/generations` first went through auth, the plan checks and the rate limit
 * (spending the key's quota) or a content-type check. This one answers from the route table up front: a path
 * that some route serves, with a method none of them accepts, gets 405 + `Allow` in the error envelope, without
 * reading the body.
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import { errorBody } from "../../../shared/errors";

type AnyHono = Pick<Hono, "routes">;

/** path pattern -> methods, from the app's registered handlers (`use` middleware is method ALL: skipped). */
function buildMethodRouter(app: AnyHono): TrieRouter<string[]> {
  const methodsByPath = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const methods = methodsByPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    methodsByPath.set(route.path, methods);
  }
  const router = new TrieRouter<string[]>();
  for (const [path, methods] of methodsByPath) router.add("ALL", path, [...methods]);
  return router;
}

/** Install after CORS (which answers preflights) and before every other middleware. */
export function methodNotAllowedFirst(app: AnyHono): MiddlewareHandler {
  let router: TrieRouter<string[]> | null = null;
  return async function methodNotAllowedFirst(c, next) {
    // Built on first use: every route is registered by then.
    router ??= buildMethodRouter(app);
    const allowed = new Set<string>();
    for (const [methods] of router.match("ALL", c.req.path)[0]) for (const m of methods) allowed.add(m);
    if (allowed.size === 0 || allowed.has(c.req.method)) return next();
    const methods = [...allowed].sort();
    return c.json(
      errorBody("invalid_request_error", `Method ${c.req.method} not allowed; use ${methods.join(", ")}`, {
        code: "method_not_allowed",
      }),
      405,
      { allow: methods.join(", ") },
    );
  };
}
