/**
 * HMAC-SHA256 signing of edge -> GPU requests with Web Crypto only (Workers and Node 20 alike).
 *
 * Signed string: `${METHOD}\n${path}\n${timestampMs}\n${nonce}\n${hex(sha256(body))}`; signature is hex.
 * With an audience (the backend base URL the edge sends the request to, also sent as `x-zi-audience`) the
 * signed string is `zi-hmac-v2\n${audience}\n` followed by the above, so a signature is valid for one backend
 * only. Verification rejects missing headers, bad signatures, a foreign or missing audience (when the verifier
 * knows its own), timestamps more than `maxSkewMs` away from now or older than `notBeforeMs` (the verifier's
 * process start: nonces seen before a restart are forgotten, so older signatures are refused) and replayed
 * nonces.
 * @module
 */
import { HMAC_HEADERS } from "./protocol";

export const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000;

/** Remembers nonces until they expire; `checkAndAdd` returns false when the nonce was already seen. */
export interface NonceStore {
  checkAndAdd(nonce: string, expiresAtMs: number): boolean | Promise<boolean>;
}

export type VerifyResult =
  | { ok: true }
  | {
      ok: false;
      reason: "missing" | "bad_signature" | "stale" | "replay" | "wrong_audience" | "signed_before_start";
    };

/** Canonical form of an audience: the base URL without trailing slashes (as the edge's GPU_BACKENDS). */
export function normalizeAudience(audience: string): string {
  return audience.trim().replace(/\/+$/, "");
}

const encoder = new TextEncoder();

function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += b.toString(16).padStart(2, "0");
  return out;
}

function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function toBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === "string" ? encoder.encode(body) : body;
}

/** Hex SHA-256 of bytes or a UTF-8 string. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", toBytes(data) as Uint8Array<ArrayBuffer>));
}

// Derived from the call so shared/ compiles against both Workers and Node typings.
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

async function importKey(secret: string): Promise<HmacKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

async function stringToSign(
  method: string,
  path: string,
  timestamp: string,
  nonce: string,
  body: Uint8Array | string,
  audience: string | null,
) {
  const base = `${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${await sha256Hex(body)}`;
  return audience === null ? base : `zi-hmac-v2\n${audience}\n${base}`;
}

/** Hex HMAC-SHA256 of a UTF-8 message (used for the keyed cache key, shared/private-cache-key.ts). */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await importKey(secret);
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

function randomNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Signs a request; returns the three `HMAC_HEADERS` to send with it.
 * @param opts.path - the request path (with query string, if any) exactly as the server will see it
 * @param opts.now - clock override in ms (default Date.now())
 * @param opts.nonce - nonce override (default 16 random bytes, hex)
 * @param opts.audience - the backend base URL the request goes to; binds the signature to it (and adds the
 *   `x-zi-audience` header)
 */
export async function signRequest(opts: {
  secret: string;
  method: string;
  path: string;
  body: Uint8Array | string;
  now?: number;
  nonce?: string;
  audience?: string;
}): Promise<Record<string, string>> {
  const timestamp = String(Math.trunc(opts.now ?? Date.now()));
  const nonce = opts.nonce ?? randomNonce();
  const audience = opts.audience === undefined ? null : normalizeAudience(opts.audience);
  const key = await importKey(opts.secret);
  const message = await stringToSign(opts.method, opts.path, timestamp, nonce, opts.body, audience);
  const signature = toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return {
    [HMAC_HEADERS.timestamp]: timestamp,
    [HMAC_HEADERS.nonce]: nonce,
    [HMAC_HEADERS.signature]: signature,
    ...(audience === null ? {} : { [HMAC_HEADERS.audience]: audience }),
  };
}

function readHeader(headers: Headers | Record<string, string>, name: string): string | null {
  if (headers instanceof Headers) return headers.get(name);
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return null;
}

/**
 * Verifies a signed request. The nonce is recorded only after the signature checks out, so forged requests
 * cannot fill the store. Comparison is constant-time (`crypto.subtle.verify`).
 * @param opts.maxSkewMs - accepted clock difference either way (default 300000 = 5 min)
 * @param opts.audiences - the base URLs this verifier is reached at; when given (non-empty) a request must be
 *   signed for one of them. Empty or absent: any audience (or none) is accepted.
 * @param opts.notBeforeMs - refuse signatures older than this (the process start)
 */
export async function verifyRequest(opts: {
  secret: string;
  method: string;
  path: string;
  body: Uint8Array | string;
  headers: Headers | Record<string, string>;
  now?: number;
  maxSkewMs?: number;
  nonces: NonceStore;
  audiences?: readonly string[];
  notBeforeMs?: number;
}): Promise<VerifyResult> {
  const timestamp = readHeader(opts.headers, HMAC_HEADERS.timestamp);
  const nonce = readHeader(opts.headers, HMAC_HEADERS.nonce);
  const signatureHex = readHeader(opts.headers, HMAC_HEADERS.signature);
  if (!timestamp || !nonce || !signatureHex) return { ok: false, reason: "missing" };
  if (!/^\d{1,16}$/.test(timestamp) || nonce.length > 128) return { ok: false, reason: "bad_signature" };

  const now = opts.now ?? Date.now();
  const maxSkew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const ts = Number(timestamp);
  if (Math.abs(now - ts) > maxSkew) return { ok: false, reason: "stale" };
  if (opts.notBeforeMs !== undefined && ts < opts.notBeforeMs)
    return { ok: false, reason: "signed_before_start" };

  const audienceHeader = readHeader(opts.headers, HMAC_HEADERS.audience);
  const audience = audienceHeader === null ? null : normalizeAudience(audienceHeader);
  const known = (opts.audiences ?? []).map(normalizeAudience);
  if (known.length > 0 && (audience === null || !known.includes(audience))) {
    return { ok: false, reason: "wrong_audience" };
  }

  const signature = fromHex(signatureHex);
  if (signature?.length !== 32) return { ok: false, reason: "bad_signature" };
  const key = await importKey(opts.secret);
  const message = await stringToSign(opts.method, opts.path, timestamp, nonce, opts.body, audience);
  const valid = await crypto.subtle.verify(
    "HMAC",
    key,
    signature as Uint8Array<ArrayBuffer>,
    encoder.encode(message),
  );
  if (!valid) return { ok: false, reason: "bad_signature" };

  const fresh = await opts.nonces.checkAndAdd(nonce, ts + maxSkew);
  return fresh ? { ok: true } : { ok: false, reason: "replay" };
}

/**
 * In-memory nonce store for one process. Bounded: expired nonces are swept first; if it is still full the
 * oldest entry is dropped (a replay would then also need a valid signature made within the skew window).
 */
export class MemoryNonceStore implements NonceStore {
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #clock: () => number;

  /**
   * @param opts.maxEntries - capacity (default 100000)
   * @param opts.now - clock (default Date.now)
   */
  constructor(opts: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = opts.maxEntries ?? 100_000;
    this.#clock = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#seen.size;
  }

  checkAndAdd(nonce: string, expiresAtMs: number): boolean {
    const now = this.#clock();
    const known = this.#seen.get(nonce);
    if (known !== undefined && known >= now) return false;
    if (this.#seen.size >= this.#maxEntries) this.#evict(now);
    this.#seen.set(nonce, expiresAtMs);
    return true;
  }

  #evict(now: number): void {
    for (const [nonce, expires] of this.#seen) if (expires < now) this.#seen.delete(nonce);
    while (this.#seen.size >= this.#maxEntries) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
  }
}
