/**
 * Sanity check of encoded image bytes by their signature, so a truncated or mislabelled GPU answer is
 * rejected before it is cached forever under an immutable key.
 * @module
 */
import type { OutputFormat } from "../../shared/protocol";

const startsWith = (bytes: Uint8Array, prefix: number[], at = 0) =>
  prefix.every((b, i) => bytes[at + i] === b);

export function looksLikeImage(bytes: Uint8Array, format: OutputFormat): boolean {
  switch (format) {
    case "png": // \x89PNG\r\n\x1a\n, then IEND as the last chunk type
      return (
        startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) &&
        startsWith(bytes, [0x49, 0x45, 0x4e, 0x44], bytes.length - 8)
      );
    case "jpeg": // SOI ... EOI
      return startsWith(bytes, [0xff, 0xd8, 0xff]) && startsWith(bytes, [0xff, 0xd9], bytes.length - 2);
    case "webp": // RIFF <size> WEBP, with the RIFF size covering the whole file
      return (
        startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) &&
        startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8) &&
        new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true) + 8 === bytes.length
      );
  }
}
