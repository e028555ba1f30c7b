/**
 * The Upstash-REST-compatible HTTP surface: `POST /` (one command as a JSON array), `POST /pipeline`,
 * `POST /multi-exec`, and path-style commands (`GET /get/key`) for curl. `Authorization: Bearer <token>`;
 * replies are `{result}` / `{error}` (per item for pipelines), base64-encoded when the client asks with
 * `Upstash-Encoding: base64`.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import { type CommandOutcome, CommandRejected, type CommandRunner, type RestCommand } from "./commands";
import { encodeReply } from "./encoding";

export interface BridgeAppOptions {
  runner: CommandRunner;
  /** The bearer token clients must present (UPSTASH_REDIS_REST_TOKEN on their side). */
  token: string;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function wantsBase64(c: Context): boolean {
  return (c.req.header("upstash-encoding") ?? "").toLowerCase() === "base64";
}

function toBody(outcome: CommandOutcome, base64: boolean): { result: unknown } | { error: string } {
  return outcome.ok ? { result: encodeReply(outcome.reply, base64) } : { error: outcome.error };
}

async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new CommandRejected("ERR request body must be JSON");
  }
}

function commandList(body: unknown): RestCommand[] {
  if (!Array.isArray(body) || !body.every((item) => Array.isArray(item))) {
    throw new CommandRejected("ERR body must be a JSON array of command arrays");
  }
  return body as RestCommand[];
}

export function createBridgeApp({ runner, token }: BridgeAppOptions): Hono {
  if (!token) throw new Error("upstash bridge: a non-empty token is required");
  const expected = digest(token);
  const app = new Hono();

  app.use(async function bearerToken(c, next) {
    const header = c.req.header("authorization") ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
    // Comparing fixed-length digests keeps the comparison constant-time whatever the presented length.
    if (!timingSafeEqual(digest(presented), expected)) {
      return c.json({ error: "Unauthorized" }, 401);
    }
    await next();
  });

  app.onError((error, c) => {
    if (error instanceof CommandRejected) return c.json({ error: error.message }, 400);
    // Redis unreachable or the connection dropped: the client treats any non-2xx as an error.
    console.error(`upstash bridge: ${error instanceof Error ? error.message : String(error)}`);
    return c.json({ error: "ERR redis unavailable" }, 503);
  });

  app.post("/pipeline", async (c) => {
    const outcomes = await runner.pipeline(commandList(await readJson(c)));
    return c.json(outcomes.map((outcome) => toBody(outcome, wantsBase64(c))));
  });

  app.post("/multi-exec", async (c) => {
    const outcomes = await runner.multiExec(commandList(await readJson(c)));
    return c.json(outcomes.map((outcome) => toBody(outcome, wantsBase64(c))));
  });

  app.post("/", async (c) => {
    const outcome = await runner.run((await readJson(c)) as RestCommand);
    return c.json(toBody(outcome, wantsBase64(c)), outcome.ok ? 200 : 400);
  });

  // Path style, e.g. `curl -H "Authorization: Bearer $T" localhost:8079/set/greeting/hello`.
  app.on(["GET", "POST"], "/*", async (c) => {
    const segments = new URL(c.req.url).pathname.split("/").filter((s) => s !== "");
    const outcome = await runner.run(segments.map((s) => decodeURIComponent(s)));
    return c.json(toBody(outcome, wantsBase64(c)), outcome.ok ? 200 : 400);
  });

  return app;
}
