/**
 * Types shared by every edge module: the Hono environment (bindings + per-request variables).
 * @module
 */
import type { OutputFormat } from "../shared/protocol";

/** One image of a generation request, as served; billing reads `c.var.servedImages` after `next()`. */
export interface ServedImage {
  cacheKey: string;
  /** "hit": found in R2 before any generation work; "miss": had to go through the single flight. */
  cache: "hit" | "miss";
  /** For misses: "generated" = this request's flight called the GPU; "coalesced" = it joined another
   * request's flight; "cached" = the flight found the object already stored. */
  source: "r2" | "generated" | "coalesced" | "cached";
  seed: number;
  width: number;
  height: number;
  steps: number;
  outputFormat: OutputFormat;
  bytes: number;
}

export interface RequestContextVariables {
  /** Set by hono/request-id; echoed as `x-request-id`. */
  requestId: string;
  servedImages: ServedImage[];
  /** Set by the metering middleware (accounts): what these images cost, for the response's `usage`. */
  priceServedImages?: (served: ServedImage[]) => number;
}

export type AppEnv = { Bindings: Env; Variables: RequestContextVariables };
