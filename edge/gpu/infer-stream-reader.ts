/**
 * Reads the GPU function's NDJSON progress stream (shared/protocol.ts INFER_STREAM_PATH) with two watchdogs:
 * - silence: no line at all (heartbeats included) for `silenceMs` -> the host is dead or frozen (SIGSTOP, network);
 * - progress: once the batch runs, no step/preview/image for `progressMs` -> the model is stuck though the process
 *   still beats.
 * A job that keeps stepping is never cut off, however long it takes (a 1024x1024, 30-step job on a slow GPU);
 * one still queued is bounded by its deadline, which the GPU function enforces itself (504 error event).
 * @module
 */
import type { InferEvent } from "../../shared/protocol";

export type StreamEnd =
  | { kind: "image"; event: Extract<InferEvent, { type: "image" }> }
  | { kind: "error"; event: Extract<InferEvent, { type: "error" }> }
  | { kind: "timeout"; why: "silence" | "progress" }
  | { kind: "broken"; message: string };

export async function readInferStream(
  body: ReadableStream<Uint8Array>,
  opts: {
    silenceMs: number;
    progressMs: number;
    onEvent?: (event: Exclude<InferEvent, { type: "image" | "error" }>) => void;
    abort: () => void;
  },
): Promise<StreamEnd> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let silenceMs = opts.silenceMs;
  let running = false;
  let timedOut: "silence" | "progress" | null = null;
  let silenceTimer: ReturnType<typeof setTimeout> | null = null;
  let progressTimer: ReturnType<typeof setTimeout> | null = null;
  const clear = (t: ReturnType<typeof setTimeout> | null) => {
    if (t !== null) clearTimeout(t);
  };
  const trip = (why: "silence" | "progress") => {
    timedOut ??= why;
    opts.abort();
    void reader.cancel().catch(() => {});
  };
  const armSilence = () => {
    clear(silenceTimer);
    silenceTimer = setTimeout(() => trip("silence"), silenceMs);
  };
  const armProgress = () => {
    clear(progressTimer);
    progressTimer = setTimeout(() => trip("progress"), opts.progressMs);
  };
  armSilence();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (timedOut) return { kind: "timeout", why: timedOut };
        return { kind: "broken", message: String(err) };
      }
      if (timedOut) return { kind: "timeout", why: timedOut };
      if (chunk.done) return { kind: "broken", message: "stream ended without an image or error event" };
      armSilence();
      buffered += decoder.decode(chunk.value, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
        if (!line) continue;
        let event: InferEvent;
        try {
          event = JSON.parse(line) as InferEvent;
        } catch {
          return { kind: "broken", message: "malformed event line" };
        }
        switch (event.type) {
          case "queued":
            // A few missed heartbeats mean a dead host; never longer than the configured bound.
            silenceMs = Math.min(opts.silenceMs, Math.max(1000, 4 * event.heartbeat_ms));
            armSilence();
            break;
          case "started":
            running = true;
            armProgress();
            break;
          case "step":
          case "preview":
            if (running) armProgress();
            break;
          case "image":
            return { kind: "image", event };
          case "error":
            return { kind: "error", event };
        }
        opts.onEvent?.(event);
      }
    }
  } finally {
    clear(silenceTimer);
    clear(progressTimer);
    try {
      reader.releaseLock();
    } catch {}
  }
}

/** Base64 -> bytes (Workers have atob, not Buffer). */
export function fromBase64(b64: string): Uint8Array {
  const binary = atob(b64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
