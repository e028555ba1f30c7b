/**
 * The image-to-image input resize (docs/benchmarks.md, "Image to image"): PIL-exact Lanczos
 * (gpu-fn/pipeline/image-resize.ts) vs sharp's lanczos3, mean of 3 after one warm-up, on noise.
 *
 *   npx tsx test/bench/resize.ts
 */
import sharp from "sharp";
import { resizeInitImage } from "../../gpu-fn/pipeline/image-resize";

const SHAPES = [
  [2048, 2048, 1024, 1024],
  [1500, 1000, 1024, 672],
  [1030, 1030, 1024, 1024],
  [512, 512, 1024, 1024],
];
const mean = async (run: () => unknown) => {
  await run();
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) await run();
  return (performance.now() - t0) / 3;
};

for (const [w, h, tw, th] of SHAPES) {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.imul(i, 2654435761) >>> 24;
  const exact = await mean(() => resizeInitImage(rgb, w, h, tw, th));
  // The longest the event loop waits meanwhile (the resize yields between slices of rows).
  let longest = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    longest = Math.max(longest, performance.now() - last);
    last = performance.now();
  }, 1);
  await resizeInitImage(rgb, w, h, tw, th);
  clearInterval(probe);
  const viaSharp = await mean(() =>
    sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .resize(tw, th, { fit: "fill", kernel: "lanczos3" })
      .raw()
      .toBuffer(),
  );
  console.log(
    `| ${w}x${h} -> ${tw}x${th} | ${exact.toFixed(0)} ms | ${longest.toFixed(0)} ms | ${viaSharp.toFixed(0)} ms |`,
  );
}
