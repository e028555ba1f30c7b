/**
 * Input image -> the output size, as the reference's VaeImageProcessor.preprocess does for a PIL image whose
 * size differs from the requested one: a plain resize to exactly width × height (aspect not kept, no crop),
 * Lanczos. PIL's Lanczos (a = 3, support scaled by the reduction factor) and libvips' lanczos3 (sharp) are the
 * same filter but not bit-identical (fixed-point rounding differs); the golden set does not cover resizing
 * (golden README §9.5). Same-size inputs are passed through untouched.
 * @module
 */
import sharp from "sharp";

export async function resizeInitImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  toWidth: number,
  toHeight: number,
): Promise<Uint8Array> {
  if (width === toWidth && height === toHeight) return rgb;
  const out = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize(toWidth, toHeight, { fit: "fill", kernel: "lanczos3" })
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
