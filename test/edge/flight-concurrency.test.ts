/**
 * How many images of a request go to their flights at once (edge/generation/concurrency.ts): all for
 * text-to-image, bounded by the input bytes in flight for image-to-image; mapLimited keeps order and the bound.
 */
import { describe, expect, it } from "vitest";
import { flightConcurrency, INPUT_BYTES_IN_FLIGHT, mapLimited } from "../../edge/generation/concurrency";
import type { PlannedImage } from "../../edge/generation/plan";

const images = (n: number, input?: { width: number; height: number }) =>
  Array.from(
    { length: n },
    (_, index) =>
      ({
        index,
        job: { request: input ? { init_image: { format: "rgb8", strength: 0.6, ...input } } : {} },
      }) as unknown as PlannedImage,
  );

describe("flight concurrency", () => {
  it("sends every text-to-image image at once, and edits as their input bytes allow", () => {
    expect(flightConcurrency(images(10))).toBe(10);
    expect(flightConcurrency(images(10, { width: 1024, height: 1024 }))).toBe(10);
    expect(flightConcurrency(images(10, { width: 2048, height: 2048 }))).toBe(2);
    expect(flightConcurrency(images(3, { width: 4096, height: 4096 }))).toBe(1);
    expect(INPUT_BYTES_IN_FLIGHT / (2048 * 2048 * 3)).toBeLessThan(3);
  });

  it("mapLimited returns results in order and never runs more than the limit at once", async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimited([5, 1, 4, 2, 3, 0], 2, async (ms, i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, ms * 5));
      running--;
      return i * 10;
    });
    expect(out).toEqual([0, 10, 20, 30, 40, 50]);
    expect(most).toBe(2);
  });
});
