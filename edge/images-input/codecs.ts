/**
 * WASM image decoders for the Worker (sharp is a native addon and cannot run in workerd): squoosh's codecs as
 * packaged by @jsquash (libpng via the Rust png crate, MozJPEG = libjpeg-turbo, libwebp). Wrangler bundles each
 * imported `.wasm` file as a compiled WebAssembly.Module (its default CompiledWasm rule), which the codec is
 * initialised with once per isolate instead of fetching it by URL.
 * @module
 */

import jpegWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
// @ts-expect-error: the package types this file as the instance's exports; wrangler imports it as a Module.
import pngWasm from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm";
import webpWasm from "@jsquash/webp/codec/dec/webp_dec.wasm";

export type InputFormat = "png" | "jpeg" | "webp";

interface Decoders {
  png: (b: ArrayBuffer) => Promise<Rgba>;
  jpeg: (b: ArrayBuffer) => Promise<Rgba>;
  webp: (b: ArrayBuffer) => Promise<Rgba>;
}

let ready: Promise<Decoders> | null = null;

/**
 * Loads the codecs on first use. The glue of @jsquash/png sets `self.location = { href: "" }` when the module
 * is evaluated (and the Emscripten glue of the others when initialised) if the global has none; libraries that
 * derive URLs from `self.location` (e.g. JSON-schema validators) then break. So the codecs are imported
 * dynamically here, not at Worker start, and the shim is removed once they are up.
 */
function codecs(): Promise<Decoders> {
  if (!ready) {
    const hadLocation = "location" in globalThis;
    ready = (async () => {
      const [png, jpeg, webp] = await Promise.all([
        import("@jsquash/png/decode.js"),
        import("@jsquash/jpeg/decode.js"),
        import("@jsquash/webp/decode.js"),
      ]);
      await Promise.all([png.init(pngWasm), jpeg.init(jpegWasm), webp.init(webpWasm)]);
      return {
        png: (b: ArrayBuffer) => png.decode(b),
        // preserveOrientation false = the pixels as stored; orientation.ts applies EXIF for every format.
        jpeg: (b: ArrayBuffer) => jpeg.default(b, { preserveOrientation: false }),
        webp: (b: ArrayBuffer) => webp.default(b),
      };
    })().finally(() => {
      if (!hadLocation) Reflect.deleteProperty(globalThis, "location");
    });
  }
  return ready;
}

/** The format from the file's magic bytes (never from the client's filename or content-type). */
export function sniffFormat(bytes: Uint8Array): InputFormat | null {
  const at = (i: number, ...b: number[]) => b.every((v, k) => bytes[i + k] === v);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (at(0, 0xff, 0xd8, 0xff)) return "jpeg";
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return "webp";
  return null;
}

/**
 * Colour components of a JPEG (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK) from its frame header (SOFn), null when none is
 * found. MozJPEG cannot convert 4-component JPEGs to RGB, so they are refused before decoding.
 */
export function jpegComponents(bytes: Uint8Array): number | null {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width, then the component count.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return bytes[at + 9];
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    at += 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
  }
  return null;
}

export interface Rgba {
  width: number;
  height: number;
  /** width·height·4 bytes, RGBA8. */
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * Decodes to 8-bit RGBA, as stored (no EXIF rotation: orientation.ts applies it for every format alike).
 * 16-bit PNGs come out as 8 bits (the high byte), grayscale and palette images as RGB.
 */
export async function decodeToRgba(bytes: Uint8Array, format: InputFormat): Promise<Rgba> {
  const decoders = await codecs();
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return decoders[format](buffer);
}
