/** Reading server-sent events in tests (the SDK-free view of what a client receives). */

export interface Sse {
  event: string | null;
  /** The `id:` field (null when the event has none). */
  id: string | null;
  data: Record<string, unknown>;
}

/** Parses SSE text into events (comments dropped). */
export function parseSse(text: string): Sse[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() && !block.startsWith(":"))
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? null;
      const id = lines.find((l) => l.startsWith("id: "))?.slice(4) ?? null;
      const data = lines
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      return { event, id, data: JSON.parse(data) as Record<string, unknown> };
    });
}

export async function readSse(res: Response): Promise<Sse[]> {
  return parseSse(await res.text());
}

/** Reads a streamed body until `marker` appears; `rest()` reads the remainder and parses everything. */
export async function readUntil(res: Response, marker: string): Promise<{ rest: () => Promise<Sse[]> }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  while (!seen.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before "${marker}"`);
    seen += decoder.decode(value, { stream: true });
  }
  return {
    rest: async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += decoder.decode(value, { stream: true });
      }
      return parseSse(seen);
    },
  };
}

export const eventTypes = (events: Sse[]) =>
  events.map((e) => (e.data.type as string | undefined) ?? (e.data.error ? "error" : "?"));
