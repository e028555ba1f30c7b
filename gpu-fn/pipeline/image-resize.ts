/**
 * Input image -> the output size, as the reference's VaeImageProcessor.preprocess does for a PIL image whose
 * size differs from the requested one: `Image.resize((w, h), LANCZOS, reducing_gap=None)`, a plain resize to
 * exactly width × height (aspect not kept, no crop). Same-size inputs are passed through untouched.
 *
 * Written by hand because no library reproduces PIL bit for bit: sharp's lanczos3 (libvips) is the same filter
 * with other rounding and tap placement, so its output differs by a few levels per pixel, and the pixels are
 * the model's input. This follows Pillow's Resample.c: separable, horizontal pass first (over only the rows the
 * vertical pass reads), per-output-pixel taps normalised to sum 1 in float64, then converted to 22-bit fixed
 * point and accumulated in integers with round-half-up and clipping to 0..255 after each pass.
 * test/gpu-fn/image-resize.test.ts checks it against Pillow's own output (test/fixtures/resize/).
 * @module
 */

/** Pillow's PRECISION_BITS for 8-bit images: 32 − 8 − 2. */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const LANCZOS_SUPPORT = 3;

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));
const lanczos = (x: number) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0);

interface Taps {
  /** Taps per output sample (the buffer stride). */
  size: number;
  /** First input index and tap count of each output sample. */
  first: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `size` per output sample. */
  weights: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis (box = the whole input). */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = LANCZOS_SUPPORT * filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * size);
  const k = new Float64Array(size);
  // Pillow multiplies by the reciprocal (not a division): the last bit of a weight can depend on it.
  const inverse = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) truncates toward zero; both bounds are clamped into the input afterwards.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = lanczos((x + xmin - center + 0.5) * inverse);
      sum += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum === 0 ? k[x] : k[x] / sum;
      weights[xx * size + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { size, first, count, weights };
}

// Sums stay inside int32, as in Pillow (255 · Σ|w| · 2^22 < 2^31), and are exact in float64.
const clip8 = (acc: number) => (acc <= 0 ? 0 : acc >= ONE * 256 ? 255 : acc >> PRECISION_BITS);

/** Output rows between two yields to the event loop (a 2048² → 1024² resize takes ~0.3 s of CPU in all). */
const ROWS_PER_SLICE = 64;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Horizontal pass over rows [from, to) of `out` (input row = output row + firstRow). */
function horizontalRows(
  rgb: Uint8Array,
  width: number,
  out: Uint8Array,
  toWidth: number,
  t: Taps,
  firstRow: number,
  from: number,
  to: number,
): void {
  const { first, count, weights, size } = t;
  for (let y = from; y < to; y++) {
    const inRow = (y + firstRow) * width * 3;
    const outRow = y * toWidth * 3;
    for (let xx = 0; xx < toWidth; xx++) {
      const n = count[xx];
      const w0 = xx * size;
      let p = inRow + first[xx] * 3;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let x = 0; x < n; x++, p += 3) {
        const w = weights[w0 + x];
        r += rgb[p] * w;
        g += rgb[p + 1] * w;
        b += rgb[p + 2] * w;
      }
      const o = outRow + xx * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
}

/** Vertical pass over output rows [from, to), one row at a time (sequential memory). */
function verticalRows(
  src: Uint8Array,
  rowLength: number,
  out: Uint8Array,
  acc: Float64Array,
  t: Taps,
  rowOffset: number,
  from: number,
  to: number,
): void {
  for (let yy = from; yy < to; yy++) {
    const y0 = t.first[yy] - rowOffset;
    const n = t.count[yy];
    const w0 = yy * t.size;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const weight = t.weights[w0 + y];
      const row = (y0 + y) * rowLength;
      for (let x = 0; x < rowLength; x++) acc[x] += src[row + x] * weight;
    }
    const o = yy * rowLength;
    for (let x = 0; x < rowLength; x++) out[o + x] = clip8(acc[x]);
  }
}

/**
 * PIL's Lanczos resize of RGB8 pixels (row-major, no padding); a same-size input is returned untouched. It runs on the GPU function's main thread, so it
 * works in slices of ROWS_PER_SLICE rows and yields between them: heartbeats, step events and other requests
 * keep flowing meanwhile. (The loops live in plain functions: V8 optimises them there, not inside an async one.)
 */
export async function resizeInitImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  toWidth: number,
  toHeight: number,
): Promise<Uint8Array> {
  if (width === toWidth && height === toHeight) return rgb;
  const tx = toWidth !== width ? taps(width, toWidth) : null;
  const ty = toHeight !== height ? taps(height, toHeight) : null;
  // Horizontal pass, over the input rows the vertical pass uses only.
  let src = rgb;
  let rowOffset = 0;
  if (tx) {
    const firstRow = ty ? ty.first[0] : 0;
    const lastRow = ty ? ty.first[toHeight - 1] + ty.count[toHeight - 1] : height;
    const rows = lastRow - firstRow;
    const out = new Uint8Array(toWidth * rows * 3);
    for (let y = 0; y < rows; y += ROWS_PER_SLICE) {
      if (y > 0) await yieldToEventLoop();
      horizontalRows(rgb, width, out, toWidth, tx, firstRow, y, Math.min(rows, y + ROWS_PER_SLICE));
    }
    src = out;
    rowOffset = firstRow;
  }
  if (!ty) return src;
  const rowLength = (tx ? toWidth : width) * 3;
  const out = new Uint8Array(rowLength * toHeight);
  const acc = new Float64Array(rowLength);
  for (let yy = 0; yy < toHeight; yy += ROWS_PER_SLICE) {
    if (yy > 0) await yieldToEventLoop();
    verticalRows(src, rowLength, out, acc, ty, rowOffset, yy, Math.min(toHeight, yy + ROWS_PER_SLICE));
  }
  return out;
}
