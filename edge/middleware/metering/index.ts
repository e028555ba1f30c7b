/**
 * Metering: after the route answers 2xx, writes one ledger row per served image (`c.var.servedImages`) in a
 * single D1 batch, together with the Idempotency-Key completion if the request holds one, and only then lets
 * the response go. If that write fails the client gets a 500 instead of unbilled images (the images stay in
 * the cache, so a retry is cheap). Failed requests (non-2xx) are never billed.
 * Sets `x-usage-images` and `x-usage-amount-micros` on billed responses.
 * Mount after `apiKeyAuth` (and `idempotency`), before the route.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { insertLedgerRow, ledgerRows } from "../../accounts/ledger";
import { ApiError } from "../../errors";
import "../../streaming/settlement";
import type { AppEnv, ServedImage } from "../../types";

/** Logs a failed ledger write; returns the client-visible error (nothing was billed, so a retry is safe). */
export function meteringFailure(requestId: string, error: unknown) {
  console.error(
    JSON.stringify({ level: "error", event: "ledger_write_failed", requestId, error: String(error) }),
  );
  return {
    type: "server_error" as const,
    message: "Usage could not be recorded, so the request was not billed; retry it",
    code: "metering_failed",
  };
}

export function metering(): MiddlewareHandler<AppEnv> {
  return async function metering(c, next) {
    c.set("priceServedImages", (served) =>
      ledgerRows(c.var.principal, c.var.requestId, served, Date.now()).reduce(
        (sum, row) => sum + row.amountMicros,
        0,
      ),
    );
    // A streamed body settles through this when its images exist (edge/streaming/settlement.ts).
    const completion0 = c.get("idempotencyCompletion");
    const release = c.get("idempotencyRelease");
    c.set("streamSettlement", {
      settle: async (served: ServedImage[], stored: Response) => {
        const rows = ledgerRows(c.var.principal, c.var.requestId, served, Date.now());
        const statements = rows.map((row) => insertLedgerRow(c.env.DB, row));
        if (completion0) statements.push(await completion0(stored));
        if (statements.length > 0) await c.env.DB.batch(statements);
        return rows.reduce((sum, row) => sum + row.amountMicros, 0);
      },
      abandon: async () => {
        await release?.();
      },
    });
    await next();
    if (c.get("streamedResponse")) return;
    if (c.res.status < 200 || c.res.status >= 300) return;
    const rows = ledgerRows(c.var.principal, c.var.requestId, c.var.servedImages, Date.now());
    const statements = rows.map((row) => insertLedgerRow(c.env.DB, row));
    if (rows.length > 0) {
      c.res.headers.set("x-usage-images", String(rows.length));
      c.res.headers.set(
        "x-usage-amount-micros",
        String(rows.reduce((sum, row) => sum + row.amountMicros, 0)),
      );
    }
    const completion = c.get("idempotencyCompletion");
    if (completion) statements.push(await completion(c.res));
    if (statements.length === 0) return;
    try {
      await c.env.DB.batch(statements);
    } catch (error) {
      const failure = meteringFailure(c.var.requestId, error);
      throw new ApiError(failure.type, failure.message, { code: failure.code });
    }
    if (completion) c.set("idempotencyCompleted", true);
  };
}
