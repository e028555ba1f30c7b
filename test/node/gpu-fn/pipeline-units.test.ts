import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { combineGuidance, guidanceAt } from "../../../gpu-fn/pipeline/cfg";
import { encodeImage } from "../../../gpu-fn/pipeline/image-encode";
import { decoderOutputToImage, roundHalfEven, toDecoderInput } from "../../../gpu-fn/pipeline/postprocess";
import { latentSize } from "../../../gpu-fn/pipeline/text-to-image";

describe("CFG", () => {
  it("computes pos + g·(pos − neg)", () => {
    const pred = combineGuidance(Float32Array.of(1, 2), Float32Array.of(0.5, 3), 4);
    expect(Array.from(pred)).toEqual([3, -2]);
  });

  it("caps the norm at cfg_normalization·‖pos‖ when asked", () => {
    const pos = Float32Array.of(3, 4); // ‖pos‖ = 5
    const pred = combineGuidance(pos, Float32Array.of(0, 0), 1, 1.2); // uncapped 6,8 -> ‖10‖ capped to 6
    expect(Math.hypot(pred[0], pred[1])).toBeCloseTo(6, 5);
    expect(pred[0] / pred[1]).toBeCloseTo(0.75, 6);
  });

  it("switches guidance off when the scale is 0 or t_norm passes cfg_truncation", () => {
    expect(guidanceAt({ guidanceScale: 0 }, 0.5)).toBe(0);
    expect(guidanceAt({ guidanceScale: 4 }, 0.7)).toBe(4);
    expect(guidanceAt({ guidanceScale: 4, cfgTruncation: 0.5 }, 0.7)).toBe(0);
    expect(guidanceAt({ guidanceScale: 4, cfgTruncation: 0.5 }, 0.25)).toBe(4);
  });
});

describe("postprocess", () => {
  it("rounds half to even like numpy", () => {
    expect([0.5, 1.5, 2.5, 254.5, 3.4999, 3.5001].map(roundHalfEven)).toEqual([0, 2, 2, 254, 3, 4]);
  });

  it("maps latents into decoder space and CHW [-1,1] to clamped HWC", () => {
    expect(Array.from(toDecoderInput(Float32Array.of(0, 0.3611), 0.3611, 0.1159))).toEqual([
      Math.fround(0.1159),
      Math.fround(1 + Math.fround(0.1159)),
    ]);
    // 1x2 image: R plane [-1, 3], G plane [0, 0], B plane [1, -5]
    const img = decoderOutputToImage(Float32Array.of(-1, 3, 0, 0, 1, -5), 2, 1);
    expect(Array.from(img.float)).toEqual([0, 0.5, 1, 1, 0.5, 0]);
    expect(Array.from(img.rgb)).toEqual([0, 128, 255, 255, 128, 0]);
  });

  it("needs sizes that are multiples of 16", () => {
    expect(latentSize(128, 96)).toEqual({ h: 12, w: 16 });
    expect(() => latentSize(100, 128)).toThrow(/multiples of 16/);
  });
});

describe("encodeImage (sharp)", () => {
  const width = 8;
  const height = 4;
  const rgb = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256);

  it("writes lossless PNG with the parameters as EXIF metadata", async () => {
    const png = await encodeImage(rgb, width, height, {
      format: "png",
      parameters: { prompt: "a cat", seed: 7 },
      software: "z-image-turbo rev-1",
    });
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width, height, channels: 3 });
    expect(new Uint8Array(data)).toEqual(rgb);
    const meta = await sharp(png).metadata();
    expect(meta.exif?.toString("latin1")).toContain('{"prompt":"a cat","seed":7}');
    expect(meta.exif?.toString("latin1")).toContain("z-image-turbo rev-1");
  });

  it("writes JPEG and WebP, honouring quality", async () => {
    const big = new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7919) % 251);
    const jpegLow = await encodeImage(big, 64, 64, { format: "jpeg", quality: 10 });
    const jpegHigh = await encodeImage(big, 64, 64, { format: "jpeg", quality: 95 });
    expect(jpegLow[0]).toBe(0xff);
    expect(jpegLow[1]).toBe(0xd8);
    expect(jpegHigh.length).toBeGreaterThan(jpegLow.length);
    const webp = await encodeImage(big, 64, 64, { format: "webp", quality: 50, parameters: { seed: 1 } });
    expect(webp.subarray(8, 12).toString()).toBe("WEBP");
    expect((await sharp(webp).metadata()).exif?.toString("latin1")).toContain('{"seed":1}');
  });
});
