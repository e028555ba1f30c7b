/**
 * Billing and Idempotency-Key completion for a streamed response. The sync path bills in the metering middleware
 * after `next()`, when the whole body is known; a streamed body is still being written then. So the route marks
 * the response as streamed (`streamedResponse`), the middlewares leave it alone after `next()`, and the stream
 * writer settles once, when every image exists and before it sends the completed events: one D1 batch with the
 * ledger rows and the Idempotency-Key completion (the SSE transcript is the stored response, so a replay streams
 * the same events). A stream that fails or is cancelled is never billed and releases its Idempotency-Key.
 * @module
 */
import type { ServedImage } from "../types";

export interface StreamSettlement {
  /** Bills `served` (and completes the Idempotency-Key with `stored`) in one batch; returns the amount. */
  settle(served: ServedImage[], stored: Response): Promise<number | null>;
  /** Nothing is billed; an Idempotency-Key held by the request is released. */
  abandon(): Promise<void>;
}

declare module "hono" {
  interface ContextVariableMap {
    /** Set by the route for a streamed body: metering and idempotency settle through `streamSettlement`. */
    streamedResponse: boolean | undefined;
    /** Set by the metering middleware (accounts); absent on the bare edge (nothing to bill). */
    streamSettlement: StreamSettlement | undefined;
    /** Set by the idempotency middleware while the request holds a key: frees it. */
    idempotencyRelease: (() => Promise<void>) | undefined;
  }
}
