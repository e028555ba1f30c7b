/**
 * How many images of one request go to their flights at once. Text-to-image: all of them (the GPU function
 * batches them). Image-to-image: every flight gets its own copy of the input pixels (RPC argument or signed
 * frame, up to 12 MB each at 2048²), so as many as fit in INPUT_BYTES_IN_FLIGHT — all of them up to ~1450²
 * inputs with n = 10, two at a time at 2048² — which keeps a 10-image edit of a 2048² photo inside a Worker's
 * 128 MB (docs/benchmarks.md, "Image to image").
 * @module
 */
import type { PlannedImage } from "./plan";

export const INPUT_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

export function flightConcurrency(images: PlannedImage[]): number {
  const input = images[0]?.job.request.init_image;
  if (!input) return Math.max(1, images.length);
  return Math.max(1, Math.floor(INPUT_BYTES_IN_FLIGHT / (input.width * input.height * 3)));
}

/** `fn` over `items` with at most `limit` running at once; results in the items' order (as Promise.all). */
export async function mapLimited<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
