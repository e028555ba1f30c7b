/**
 * An uploaded input image -> the normalised pixels the GPU works on and the cache key hashes:
 *   1. bytes bounded (413 `image_too_large`), format from magic bytes (400 `unsupported_image_format`);
 *   2. dimensions read from the header (image-size) and bounded before any pixel is decoded
 *      (400 `image_too_many_pixels` / `image_too_small`), so a decompression bomb costs nothing;
 *   3. WASM decode to RGBA (codecs.ts; 400 `invalid_image` when it fails, `unsupported_color_space` for CMYK
 *      JPEGs, which MozJPEG cannot turn into RGB);
 *   4. alpha dropped and gray/palette expanded, as PIL's convert("RGB") (diffusers' load_image) does: colour
 *      values are kept as stored, no compositing; ICC profiles are not applied (PIL does not either);
 *   5. EXIF orientation applied (orientation.ts), as ImageOps.exif_transpose;
 *   6. `hash` = SHA-256 of "rgb8 WxH <SHA-256 of the RGB bytes>": the cache-key field for the input.
 * Nothing here is stored: the pixels live in this request's memory and go to the GPU in the signed frame.
 * @module
 */
import { imageSize } from "image-size";
import { sha256Hex } from "../../shared/hmac";
import { MAX_INIT_IMAGE_PIXELS } from "../../shared/protocol";
import { ApiError } from "../errors";
import { decodeToRgba, type InputFormat, jpegComponents, sniffFormat } from "./codecs";
import { applyOrientation, exifOrientation } from "./orientation";

/** Largest upload accepted per image (OpenAI allows up to 50 MB for gpt-image-1; a Worker has 128 MB). */
export const MAX_INPUT_IMAGE_BYTES = 10 * 1024 * 1024;
/** Most pixels per input image (2048²); larger photos must be downscaled by the client. */
export const MAX_INPUT_IMAGE_PIXELS = MAX_INIT_IMAGE_PIXELS;
/** Smallest side: the output is at least 16 px a side, and a 1-px input carries nothing to restyle. */
export const MIN_INPUT_IMAGE_SIDE = 16;

export interface InputImage {
  format: InputFormat;
  width: number;
  height: number;
  /** width·height·3 bytes, RGB8, upright. */
  rgb: Uint8Array;
  /** hex SHA-256 of the normalised pixels (with their size): what the cache key sees of the input. */
  hash: string;
}

const bad = (message: string, code: string, param = "image") =>
  new ApiError("invalid_request_error", message, { param, code });

export async function normalizeInputImage(bytes: Uint8Array, param = "image"): Promise<InputImage> {
  if (bytes.length > MAX_INPUT_IMAGE_BYTES) {
    throw new ApiError("invalid_request_error", `${param} is larger than ${MAX_INPUT_IMAGE_BYTES} bytes`, {
      status: 413,
      param,
      code: "image_too_large",
    });
  }
  const format = sniffFormat(bytes);
  if (!format) throw bad(`${param} must be a PNG, JPEG or WebP image`, "unsupported_image_format", param);
  let dims: { width?: number; height?: number };
  try {
    dims = imageSize(bytes);
  } catch {
    throw bad(`${param} is not a readable ${format.toUpperCase()} image`, "invalid_image", param);
  }
  const { width = 0, height = 0 } = dims;
  if (width * height > MAX_INPUT_IMAGE_PIXELS) {
    throw bad(
      `${param} has ${width}x${height} pixels; at most ${MAX_INPUT_IMAGE_PIXELS} (e.g. 2048x2048) are accepted`,
      "image_too_many_pixels",
      param,
    );
  }
  if (Math.min(width, height) < MIN_INPUT_IMAGE_SIDE) {
    throw bad(
      `${param} must be at least ${MIN_INPUT_IMAGE_SIDE} pixels on each side`,
      "image_too_small",
      param,
    );
  }
  if (format === "jpeg" && jpegComponents(bytes) === 4) {
    throw bad(
      `${param} is a CMYK JPEG; convert it to RGB (sRGB) first: only RGB and grayscale JPEGs are read`,
      "unsupported_color_space",
      param,
    );
  }
  let rgba: Awaited<ReturnType<typeof decodeToRgba>>;
  try {
    rgba = await decodeToRgba(bytes, format);
  } catch {
    throw bad(`${param} could not be decoded as ${format.toUpperCase()}`, "invalid_image", param);
  }
  if (rgba.width !== width || rgba.height !== height) {
    throw bad(`${param}: the decoded size differs from the header's`, "invalid_image", param);
  }
  const stored = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < stored.length; p += 3, q += 4) {
    stored[p] = rgba.data[q];
    stored[p + 1] = rgba.data[q + 1];
    stored[p + 2] = rgba.data[q + 2];
  }
  const upright = applyOrientation(stored, width, height, exifOrientation(bytes, format));
  // Size and pixel digest hashed together; no size-prefixed copy of the pixels (Web Crypto has no streaming).
  const pixels = await sha256Hex(upright.rgb);
  return { format, ...upright, hash: await sha256Hex(`rgb8 ${upright.width}x${upright.height} ${pixels}`) };
}
