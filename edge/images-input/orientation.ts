/**
 * EXIF orientation (tag 0x0112 of IFD0), read from wherever each format keeps its EXIF block: JPEG APP1
 * "Exif\0\0", PNG `eXIf` chunk, WebP `EXIF` chunk; then applied to the pixels, as PIL's
 * ImageOps.exif_transpose does in diffusers' load_image before the pipeline sees the image.
 * Hand-written because it is one tag of one IFD: a general EXIF library (exifr) would add a large bundle to
 * the Worker for this, and the container walks below are bounded by the (already size-limited) input.
 * @module
 */
import type { InputFormat } from "./codecs";

/** 1 (as stored) .. 8; anything unreadable counts as 1. */
export function exifOrientation(bytes: Uint8Array, format: InputFormat): number {
  const tiff = exifBlock(bytes, format);
  return tiff ? (tiffOrientation(tiff) ?? 1) : 1;
}

function exifBlock(b: Uint8Array, format: InputFormat): Uint8Array | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const isExifHeader = (i: number) =>
    b[i] === 0x45 &&
    b[i + 1] === 0x78 &&
    b[i + 2] === 0x69 &&
    b[i + 3] === 0x66 &&
    b[i + 4] === 0 &&
    b[i + 5] === 0;
  if (format === "jpeg") {
    let i = 2;
    while (i + 4 <= b.length && b[i] === 0xff) {
      const marker = b[i + 1];
      if (marker === 0xda || marker === 0xd9) break; // start of scan / end of image
      const len = v.getUint16(i + 2);
      if (marker === 0xe1 && isExifHeader(i + 4)) return b.subarray(i + 10, Math.min(b.length, i + 2 + len));
      i += 2 + len;
    }
    return null;
  }
  if (format === "png") {
    for (let i = 8; i + 12 <= b.length; ) {
      const len = v.getUint32(i);
      const type = String.fromCharCode(b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
      if (type === "eXIf") return b.subarray(i + 8, Math.min(b.length, i + 8 + len));
      if (type === "IDAT" || type === "IEND") return null; // eXIf must come before the image data
      i += 12 + len;
    }
    return null;
  }
  for (let i = 12; i + 8 <= b.length; ) {
    const len = v.getUint32(i + 4, true);
    const type = String.fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
    if (type === "EXIF") {
      const start = isExifHeader(i + 8) ? i + 14 : i + 8; // some writers keep the JPEG-style header
      return b.subarray(start, Math.min(b.length, i + 8 + len));
    }
    i += 8 + len + (len & 1);
  }
  return null;
}

function tiffOrientation(t: Uint8Array): number | null {
  if (t.length < 8) return null;
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return null;
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const ifd = v.getUint32(4, little);
  if (ifd + 2 > t.length) return null;
  const count = v.getUint16(ifd, little);
  for (let k = 0; k < count; k++) {
    const e = ifd + 2 + k * 12;
    if (e + 12 > t.length) return null;
    if (v.getUint16(e, little) === 0x0112) {
      const value = v.getUint16(e + 8, little);
      return value >= 1 && value <= 8 ? value : null;
    }
  }
  return null;
}

/**
 * Applies an EXIF orientation to packed RGB pixels: 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
 * 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise (PIL's exif_transpose table).
 */
export function applyOrientation(
  rgb: Uint8Array,
  width: number,
  height: number,
  orientation: number,
): { rgb: Uint8Array; width: number; height: number } {
  if (orientation <= 1 || orientation > 8) return { rgb, width, height };
  const swap = orientation >= 5;
  const w = swap ? height : width;
  const h = swap ? width : height;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // (sx, sy): the source pixel that lands at (x, y) of the upright image.
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2:
          [sx, sy] = [width - 1 - x, y];
          break;
        case 3:
          [sx, sy] = [width - 1 - x, height - 1 - y];
          break;
        case 4:
          [sx, sy] = [x, height - 1 - y];
          break;
        case 5:
          [sx, sy] = [y, x];
          break;
        case 6:
          [sx, sy] = [y, height - 1 - x];
          break;
        case 7:
          [sx, sy] = [width - 1 - y, height - 1 - x];
          break;
        default:
          [sx, sy] = [width - 1 - y, x];
          break; // 8
      }
      const s = (sy * width + sx) * 3;
      const d = (y * w + x) * 3;
      out[d] = rgb[s];
      out[d + 1] = rgb[s + 1];
      out[d + 2] = rgb[s + 2];
    }
  }
  return { rgb: out, width: w, height: h };
}
