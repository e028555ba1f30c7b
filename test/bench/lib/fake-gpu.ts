/**
 * A minimal fake GPU function for the edge benchmarks: verifies the HMAC signature and the infer body, and
 * answers every valid request with the same real 512x512 JPEG (sharp-encoded noise).
 * @module
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sharp, { type JpegOptions } from "sharp";
import { MemoryNonceStore, verifyRequest } from "../../../shared/hmac";
import { INFER_HEADERS, INFER_STREAM_PATH, inferRequestSchema } from "../../../shared/protocol";

export interface FakeGpu {
  url: string;
  server: Server;
  /** Infer requests answered with an image so far. */
  calls: () => number;
}

/**
 * @param opts.secret - the edge's GPU_HMAC_SECRET
 * @param opts.revision - sent back as the model revision header
 * @param opts.jpeg - sharp JPEG options of the answer image (default: sharp's defaults)
 */
export async function startFakeGpu(opts: {
  secret: string;
  revision: string;
  jpeg?: JpegOptions;
}): Promise<FakeGpu> {
  const noise = Buffer.from(Array.from({ length: 512 * 512 * 3 }, (_, i) => (i * 2654435761) % 251));
  const jpeg = await sharp(noise, { raw: { width: 512, height: 512, channels: 3 } })
    .jpeg(opts.jpeg)
    .toBuffer();
  const nonces = new MemoryNonceStore();
  let calls = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const verdict = await verifyRequest({
      secret: opts.secret,
      method: req.method ?? "",
      path: req.url ?? "",
      body,
      headers: req.headers as Record<string, string>,
      nonces,
    });
    const parsed = inferRequestSchema.safeParse(JSON.parse(body || "null"));
    if (!verdict.ok || !parsed.success) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":{"message":"rejected"}}');
      return;
    }
    calls++;
    if (req.url === INFER_STREAM_PATH) {
      // The edge's GPU client uses the streaming form: one queued event, then the image.
      const image = {
        type: "image",
        content_type: "image/jpeg",
        seed: parsed.data.seed,
        model_revision: opts.revision,
        prompt_truncated: false,
        server_timing: "",
        batch_size: 1,
        b64: jpeg.toString("base64"),
        t_ms: 0,
      };
      res
        .writeHead(200, { "content-type": "application/x-ndjson" })
        .end(
          `${JSON.stringify({ type: "queued", position: 0, heartbeat_ms: 1000, t_ms: 0 })}\n${JSON.stringify(image)}\n`,
        );
      return;
    }
    res
      .writeHead(200, {
        "content-type": "image/jpeg",
        [INFER_HEADERS.seed]: String(parsed.data.seed),
        [INFER_HEADERS.modelRevision]: opts.revision,
        [INFER_HEADERS.promptTruncated]: "0",
      })
      .end(jpeg);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, calls: () => calls };
}
