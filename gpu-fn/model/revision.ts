/** Content digest of a model folder: the `revision` in model.json (part of every image cache key). */

import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";

const CHUNK = 16 * 1024 * 1024;

/**
 * "zit-" + the first 16 hex of sha256 over each file's name, length and bytes (in the given order), then
 * `extra` (a JSON string of the numbers that change outputs without changing a file: scheduler, latent, defaults).
 */
export function contentRevision(files: { name: string; path: string }[], extra: string): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const f of files) {
    const fd = openSync(f.path, "r");
    try {
      let total = 0;
      for (let n = readSync(fd, buf, 0, CHUNK, null); n > 0; n = readSync(fd, buf, 0, CHUNK, null)) {
        hash.update(buf.subarray(0, n));
        total += n;
      }
      hash.update(`\0${f.name}\0${total}\0`);
    } finally {
      closeSync(fd);
    }
  }
  hash.update(extra);
  return `zit-${hash.digest("hex").slice(0, 16)}`;
}
