/**
 * The edit input decoder (edge/images-input, WASM codecs in workerd) against what diffusers' `load_image` gives
 * the pipeline, `ImageOps.exif_transpose(Image.open(f)).convert("RGB")`, for the files PIL reads differently from
 * plain RGB: palette with transparency, gray, gray + alpha, gray and progressive 4:2:0 JPEG, RGBA and lossy
 * WebP (test/fixtures/edits/pil/, written by Pillow): every byte equal. A CMYK JPEG is refused with a clear 400.
 */
import { describe, expect, it } from "vitest";
import { normalizeInputImage } from "../../edge/images-input";
import { PIL_FIXTURES } from "../fixtures/edits/pil/pil-fixtures";

const bytes = (b64: string) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));

const differing = (a: Uint8Array, b: Uint8Array) => a.reduce((n, v, i) => n + (v === b[i] ? 0 : 1), 0);

describe("input images decode to PIL's RGB", () => {
  const decodable = Object.keys(PIL_FIXTURES).filter((name) => name !== "cmyk.jpg");
  it.each(decodable)("%s: byte for byte", async (name) => {
    const { file, rgb } = PIL_FIXTURES[name];
    const img = await normalizeInputImage(bytes(file));
    expect([img.width, img.height]).toEqual([40, 24]);
    const expected = bytes(rgb);
    expect(img.rgb.length).toBe(expected.length);
    expect(differing(img.rgb, expected)).toBe(0);
  });

  it("refuses a CMYK JPEG with 400 unsupported_color_space (PIL would convert it)", async () => {
    const error = await normalizeInputImage(bytes(PIL_FIXTURES["cmyk.jpg"].file)).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, code: "unsupported_color_space", param: "image" });
  });
});
