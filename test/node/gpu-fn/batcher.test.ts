import { describe, expect, it } from "vitest";
import type { GenerationJob } from "../../../gpu-fn/pipeline/text-to-image";
import type { BatchDone } from "../../../gpu-fn/runtime/inference-engine";
import {
  batchKey,
  ClientGoneError,
  DeadlineExceededError,
  DrainingError,
  DynamicBatcher,
  QueueFullError,
} from "../../../gpu-fn/server/batcher";

/** A batch runner the test completes by hand, recording what it was given. */
class ManualRunner {
  calls: { jobs: GenerationJob[]; cancel: Int32Array; finish: (cancelled?: number[]) => void }[] = [];
  run(jobs: GenerationJob[], cancel: SharedArrayBuffer): Promise<BatchDone> {
    return new Promise((resolve) => {
      this.calls.push({
        jobs,
        cancel: new Int32Array(cancel),
        finish: (cancelled = []) =>
          resolve({
            type: "done",
            id: this.calls.length,
            images: jobs.map((j, k) =>
              cancelled.includes(k) ? null : { width: j.width, height: j.height, rgb: new Uint8Array(3) },
            ),
            timings: { textEncoderMs: 0, stepMs: [], decodeMs: 0, postprocessMs: 0, previewMs: 0 },
            sessionRunMs: 0,
            computeMs: 0,
          }),
      });
    });
  }
}

const job = (over: Partial<GenerationJob> = {}): GenerationJob => ({
  width: 64,
  height: 64,
  steps: 8,
  guidanceScale: 0,
  promptIds: [1],
  seed: 0,
  ...over,
});
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("DynamicBatcher", () => {
  it("groups by size, steps and guidance mode", () => {
    expect(batchKey(job())).toBe(batchKey(job({ seed: 9, promptIds: [4, 5] })));
    expect(batchKey(job())).not.toBe(batchKey(job({ width: 128 })));
    expect(batchKey(job())).not.toBe(batchKey(job({ steps: 4 })));
    expect(batchKey(job({ guidanceScale: 2 }))).toBe(batchKey(job({ guidanceScale: 5 })));
    expect(batchKey(job())).not.toBe(batchKey(job({ guidanceScale: 2 })));
  });

  it("fills a batch up to maxBatch from the oldest request's group, FIFO, while the engine is busy", async () => {
    const runner = new ManualRunner();
    const b = new DynamicBatcher(runner, { maxBatch: 2, maxWaitMs: 0, maxQueue: 10 });
    const first = b.submit(job({ seed: 1 }));
    await tick();
    expect(runner.calls).toHaveLength(1); // dispatched at once: maxWaitMs 0
    const rest = [
      b.submit(job({ seed: 2, width: 128 })),
      b.submit(job({ seed: 3 })),
      b.submit(job({ seed: 4, width: 128 })),
      b.submit(job({ seed: 5 })),
    ];
    expect(b.depth).toBe(4);
    runner.calls[0].finish();
    await first;
    await tick();
    expect(runner.calls[1].jobs.map((j) => j.seed)).toEqual([2, 4]); // oldest is 128 wide; its group
    runner.calls[1].finish();
    await tick();
    expect(runner.calls[2].jobs.map((j) => j.seed)).toEqual([3, 5]);
    runner.calls[2].finish();
    const results = await Promise.all(rest);
    expect(results.map((r) => r.batchSize)).toEqual([2, 2, 2, 2]);
  });

  it("waits up to maxWaitMs for company, then runs what it has", async () => {
    const runner = new ManualRunner();
    const b = new DynamicBatcher(runner, { maxBatch: 4, maxWaitMs: 30, maxQueue: 10 });
    const p = b.submit(job());
    await tick();
    expect(runner.calls).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(runner.calls).toHaveLength(1);
    runner.calls[0].finish();
    expect((await p).batchSize).toBe(1);
  });

  it("rejects when the queue is full and while draining", async () => {
    const runner = new ManualRunner();
    const b = new DynamicBatcher(runner, { maxBatch: 1, maxWaitMs: 0, maxQueue: 1 });
    const running = b.submit(job());
    const queued = b.submit(job());
    await expect(b.submit(job())).rejects.toBeInstanceOf(QueueFullError);
    const drained = b.drain();
    await expect(b.submit(job())).rejects.toBeInstanceOf(DrainingError);
    runner.calls[0].finish();
    await running;
    await tick();
    runner.calls[1].finish(); // queued work still completes during drain
    await queued;
    await drained;
  });

  it("drops expired deadlines and departed clients before compute", async () => {
    let now = 1000;
    const runner = new ManualRunner();
    const b = new DynamicBatcher(runner, { maxBatch: 1, maxWaitMs: 0, maxQueue: 10, now: () => now });
    const blocker = b.submit(job());
    const late = b.submit(job({ seed: 1 }), { deadlineMs: 1500 });
    const gone = new AbortController();
    const leaving = b.submit(job({ seed: 2 }), { signal: gone.signal });
    gone.abort();
    await expect(leaving).rejects.toBeInstanceOf(ClientGoneError);
    now = 2000;
    runner.calls[0].finish();
    await blocker;
    await expect(late).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(runner.calls).toHaveLength(1); // neither was computed
  });

  it("flags a client that leaves mid-batch so the worker can drop it between steps", async () => {
    const runner = new ManualRunner();
    const b = new DynamicBatcher(runner, { maxBatch: 2, maxWaitMs: 0, maxQueue: 10 });
    const stay = b.submit(job({ seed: 1 }));
    const gone = new AbortController();
    const leave = b.submit(job({ seed: 2 }), { signal: gone.signal });
    // The first goes alone (engine idle, no wait); the second runs in the next batch.
    await tick();
    runner.calls[0].finish();
    await stay;
    await tick();
    expect(runner.calls[1].jobs[0].seed).toBe(2);
    gone.abort();
    expect(Atomics.load(runner.calls[1].cancel, 0)).toBe(1);
    runner.calls[1].finish([0]);
    await expect(leave).rejects.toBeInstanceOf(ClientGoneError);
  });
});
