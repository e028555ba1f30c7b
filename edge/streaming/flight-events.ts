/**
 * What a single flight (edge/objects/generation.ts) streams to its subscribers: NDJSON lines, one FlightEvent
 * each, ending with `done`. Previews carry the GPU's index among `of` previews; each subscriber picks the subset
 * matching its own `partial_images` (pickPreviews).
 * @module
 */
import { decodeInferFrame as decodeFrame, encodeFrame } from "../../shared/protocol";
import type { FlightOutcome, GenerationJob } from "../objects/generation";

export type FlightEvent =
  | { type: "queued"; position: number }
  | { type: "step"; step: number; total: number; attempt: number }
  | { type: "preview"; index: number; of: number; b64: string }
  | { type: "done"; outcome: FlightOutcome };

export interface FlightStreamRequest {
  job: GenerationJob;
  /** The subscriber's partial_images (0-3). */
  previews: number;
}

/**
 * The body of POST /stream: the request as JSON, and an image-to-image job's input pixels as raw bytes after it
 * (the frame layout of shared/protocol.ts), since a Uint8Array does not survive JSON.
 */
export function encodeFlightStreamRequest(request: FlightStreamRequest): Uint8Array | string {
  const { initPixels, ...job } = request.job;
  if (!initPixels) return JSON.stringify(request);
  return encodeFrame(JSON.stringify({ ...request, job }), initPixels);
}

export function decodeFlightStreamRequest(body: Uint8Array): FlightStreamRequest {
  const frame = decodeFrame(body);
  if (!frame) return JSON.parse(new TextDecoder().decode(body)) as FlightStreamRequest;
  const request = JSON.parse(frame.json) as FlightStreamRequest;
  return { ...request, job: { ...request.job, initPixels: frame.pixels } };
}

export const encodeFlightEvent = (event: FlightEvent): string => `${JSON.stringify(event)}\n`;

/**
 * Which of `of` evenly spaced GPU previews a subscriber wanting `wanted` should show, as GPU index -> its own
 * 0-based partial_image_index: evenly spaced again (3 of 3: all; 2 of 3: first and last; 1 of 3: the middle).
 */
export function pickPreviews(of: number, wanted: number): Map<number, number> {
  const picked = new Map<number, number>();
  const k = Math.min(of, wanted);
  for (let j = 0; j < k; j++) picked.set(Math.round(((j + 1) * (of + 1)) / (k + 1)) - 1, j);
  return picked;
}

/**
 * Reads a flight's NDJSON stream, calling `onEvent` per event; resolves after `done` (or rejects if it breaks).
 * `signal` unsubscribes: the stream is cancelled, so the flight loses this waiter (and stops if it was the last).
 */
export async function readFlightEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: FlightEvent) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<FlightOutcome> {
  const reader = body.getReader();
  const unsubscribe = () => void reader.cancel().catch(() => {});
  if (signal?.aborted) unsubscribe();
  signal?.addEventListener("abort", unsubscribe, { once: true });
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("flight stream ended without an outcome");
    buffered += decoder.decode(value, { stream: true });
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
      if (!line.trim()) continue;
      const event = JSON.parse(line) as FlightEvent;
      if (event.type === "done") {
        await reader.cancel().catch(() => {});
        return event.outcome;
      }
      await onEvent(event);
    }
  }
}
