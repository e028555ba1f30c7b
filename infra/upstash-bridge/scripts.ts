/**
 * Lua script bookkeeping for the bridge.
 *
 * @upstash/ratelimit (>= 2.1) starts every script with `#!lua flags=allow-key-locking`, a flag only Upstash
 * understands; open-source Redis refuses the script. The bridge removes that flag before Redis sees the script
 * and remembers sha1(original) -> sha1(stripped), because the client calls EVALSHA with the hash of the
 * original text it ships.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Shebang flags that exist only on Upstash and are removed before a script reaches Redis. */
export const UPSTASH_ONLY_FLAGS: readonly string[] = ["allow-key-locking"];

const SHEBANG = /^#!lua(?:[ \t]+flags=([^\s]*))?[ \t]*(\r?\n|$)/;

export function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/**
 * Returns the script with Upstash-only shebang flags removed. A shebang left with no flags is dropped entirely,
 * so Redis treats the script like any script without a shebang (the same semantics Upstash gives it).
 */
export function stripUpstashFlags(script: string): string {
  const match = SHEBANG.exec(script);
  if (!match) return script;
  const flags = (match[1] ?? "").split(",").filter((flag) => flag !== "");
  const kept = flags.filter((flag) => !UPSTASH_ONLY_FLAGS.includes(flag));
  if (kept.length === flags.length) return script;
  const rest = script.slice(match[0].length);
  // Keep a blank first line so Redis' error messages still point at the caller's line numbers.
  return kept.length === 0 ? `${match[2]}${rest}` : `#!lua flags=${kept.join(",")}${match[2]}${rest}`;
}

/** Maps the hashes clients know (of the scripts they sent) to the hashes Redis knows (of what it received). */
export class ScriptRegistry {
  #redisShaByClientSha = new Map<string, string>();

  /** Records a script the client sent and returns the text Redis should run. */
  register(clientScript: string): string {
    const stripped = stripUpstashFlags(clientScript);
    this.#redisShaByClientSha.set(sha1Hex(clientScript), sha1Hex(stripped));
    return stripped;
  }

  /** The hash to send to Redis for a hash the client sent; unknown hashes pass through unchanged. */
  redisSha(clientSha: string): string {
    return this.#redisShaByClientSha.get(clientSha.toLowerCase()) ?? clientSha;
  }
}
