/**
 * API key format: `zi_live_<32 base62 chars>` or `zi_test_<...>` (about 190 bits of entropy). Only the SHA-256
 * of the whole key is stored; the first characters after the mode form a visible prefix for listings.
 *
 * @module
 */
import { sha256Hex } from "../../shared/hmac";

export const KEY_MODES = ["live", "test"] as const;
export type KeyMode = (typeof KEY_MODES)[number];

/** Characters of randomness after `zi_<mode>_`: 32 base62 chars = 32 * log2(62) ≈ 190 bits. */
export const KEY_RANDOM_CHARS = 32;
/** Random characters kept in the visible prefix (`zi_live_Ab3dE9`): identifies a key, useless to attack it. */
export const KEY_PREFIX_RANDOM_CHARS = 6;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_PATTERN = new RegExp(`^zi_(live|test)_[0-9A-Za-z]{${KEY_RANDOM_CHARS}}$`);

export interface GeneratedKey {
  /** Shown to the caller exactly once. */
  plaintext: string;
  prefix: string;
  hash: string;
  mode: KeyMode;
}

/**
 * Unbiased base62 from crypto.getRandomValues: bytes >= 248 (= 4 * 62) are rejected so every character is
 * equally likely. A few lines, so written here rather than pulling in a dependency.
 */
function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** The visible prefix of a key: `zi_<mode>_` plus its first random characters. */
export function keyPrefix(plaintext: string): string {
  return plaintext.slice(0, "zi_live_".length + KEY_PREFIX_RANDOM_CHARS);
}

/** True when the string has the exact shape of an API key (checked before any lookup). */
export function isWellFormedKey(candidate: string): boolean {
  return KEY_PATTERN.test(candidate);
}

export function hashApiKey(plaintext: string): Promise<string> {
  return sha256Hex(plaintext);
}

export async function generateApiKey(mode: KeyMode): Promise<GeneratedKey> {
  const plaintext = `zi_${mode}_${randomBase62(KEY_RANDOM_CHARS)}`;
  return { plaintext, prefix: keyPrefix(plaintext), hash: await hashApiKey(plaintext), mode };
}

/** Random identifiers for rows: `acct_…`, `key_…` (128 bits, base62). */
export function newId(kind: "acct" | "key"): string {
  return `${kind}_${randomBase62(22)}`;
}
