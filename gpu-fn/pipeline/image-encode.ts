/**
 * uint8 RGB -> PNG / JPEG / WebP with sharp, generation parameters embedded as EXIF ImageDescription (JSON)
 * so a saved file says how it was made.
 * @module
 */
import sharp from "sharp";

export type ImageFormat = "png" | "jpeg" | "webp";

export interface EncodeOptions {
  format: ImageFormat;
  /** 1-100 for JPEG/WebP (default 90); ignored for PNG, which is lossless. */
  quality?: number;
  /** Stored as JSON in EXIF IFD0 ImageDescription; Software names the model. */
  parameters?: Record<string, unknown>;
  software?: string;
}

export async function encodeImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  opts: EncodeOptions,
): Promise<Buffer> {
  let img = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (opts.parameters || opts.software) {
    const ifd0: Record<string, string> = {};
    if (opts.parameters) ifd0.ImageDescription = JSON.stringify(opts.parameters);
    if (opts.software) ifd0.Software = opts.software;
    img = img.withExif({ IFD0: ifd0 });
  }
  const quality = opts.quality ?? 90;
  switch (opts.format) {
    case "png":
      return img.png().toBuffer();
    case "jpeg":
      return img.jpeg({ quality }).toBuffer();
    case "webp":
      return img.webp({ quality }).toBuffer();
  }
}
