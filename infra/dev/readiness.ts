/**
 * Waits until a piece of the stack answers over HTTP, failing fast (with the process's output) when the
 * process dies first, and with a clear message when it does not become ready in time.
 *
 * @module
 */
import type { ManagedProcess } from "./processes";

export interface WaitOptions {
  /** What is being waited for, e.g. "GPU function /readyz". */
  what: string;
  timeoutMs: number;
  /** The process that should answer; its exit aborts the wait. */
  process?: ManagedProcess;
  /** Output of `process` that means it will never become ready (e.g. a failed build in a watch mode). */
  fatalOutput?: RegExp;
  /** Which responses count as ready; default: 200..299. */
  ready?: (response: Response) => boolean;
  intervalMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitForHttp(url: string, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const isReady = options.ready ?? ((r: Response) => r.ok);
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (options.process && !options.process.running()) {
      throw new Error(
        `${options.what}: ${options.process.name} exited before it was ready.\n--- last output ---\n${options.process.tail()}`,
      );
    }
    if (options.process && options.fatalOutput?.test(options.process.tail())) {
      throw new Error(
        `${options.what}: ${options.process.name} failed.\n--- last output ---\n${options.process.tail()}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await response.arrayBuffer();
      if (isReady(response)) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(options.intervalMs ?? 250);
  }
  const tail = options.process
    ? `\n--- last output of ${options.process.name} ---\n${options.process.tail()}`
    : "";
  throw new Error(
    `${options.what} (${url}) was not ready after ${Math.round(options.timeoutMs / 1000)} s (last: ${last}).${tail}`,
  );
}
