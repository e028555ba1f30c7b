/**
 * Encodes Redis replies the way the Upstash REST API does.
 *
 * With `Upstash-Encoding: base64` every string in a result (recursively inside arrays) is base64 of its raw
 * bytes; integers and nil stay raw. Without it, strings are sent as UTF-8 text.
 *
 * @module
 */

export type RestValue = string | number | null | RestValue[];

/** A reply from the Redis client with bulk strings kept as Buffers (binary-safe). */
export type RedisReply =
  | Buffer
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | RedisReply[]
  | object;

export function encodeReply(reply: RedisReply, base64: boolean): RestValue {
  if (reply === null || reply === undefined) return null;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString("base64") : reply.toString("utf8");
  if (typeof reply === "string") return base64 ? Buffer.from(reply, "utf8").toString("base64") : reply;
  if (typeof reply === "number") return reply;
  // RESP2 has no big numbers or booleans on the wire, but a Lua script may hand back either via RESP3 mapping.
  if (typeof reply === "bigint") return Number(reply);
  if (typeof reply === "boolean") return reply ? 1 : null;
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64));
  // RESP3 maps (the bridge speaks RESP2, so only if configured otherwise) flatten like RESP2 does.
  const entries = reply instanceof Map ? [...reply.entries()] : Object.entries(reply);
  return entries.flat().map((item) => encodeReply(item as RedisReply, base64));
}
