/**
 * The input resize of image-to-image (gpu-fn/pipeline/image-resize.ts) against Pillow's own
 * `Image.resize(..., LANCZOS, reducing_gap=None)` (what diffusers' VaeImageProcessor calls): the fixtures in
 * test/fixtures/resize/ were written by `make.py` with Debian's Pillow 9.4; every output byte must match.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { resizeInitImage } from "../../../gpu-fn/pipeline/image-resize";

interface ResizeCase {
  from: [number, number];
  to: [number, number];
  input: string;
  output: string;
}

const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../fixtures/resize/pil-lanczos.json"), "utf8"),
) as { pillow: string; cases: ResizeCase[] };
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));

describe("PIL-exact Lanczos resize of input images", () => {
  it.each(fixture.cases.map((c) => [`${c.from.join("x")} -> ${c.to.join("x")}`, c] as const))(
    "%s matches Pillow byte for byte",
    async (_, c) => {
      const out = await resizeInitImage(bytes(c.input), c.from[0], c.from[1], c.to[0], c.to[1]);
      const expected = bytes(c.output);
      expect(out.length).toBe(expected.length);
      const differing = out.reduce((n, v, i) => n + (v === expected[i] ? 0 : 1), 0);
      expect(differing).toBe(0);
    },
  );

  it("libvips' lanczos3 (sharp) does not give Pillow's bytes: why the resize is written by hand", async () => {
    const c = fixture.cases[1];
    const [w, h] = c.from;
    const [tw, th] = c.to;
    const viaSharp = await sharp(Buffer.from(bytes(c.input)), { raw: { width: w, height: h, channels: 3 } })
      .resize(tw, th, { fit: "fill", kernel: "lanczos3" })
      .raw()
      .toBuffer();
    const expected = bytes(c.output);
    const sharpDiffers = [...viaSharp].filter((v, i) => v !== expected[i]).length;
    expect(sharpDiffers).toBeGreaterThan(0);
  });

  it("passes a same-size input through untouched", async () => {
    const rgb = bytes(fixture.cases[0].input);
    expect(await resizeInitImage(rgb, 37, 23, 37, 23)).toBe(rgb);
  });
});
