/**
 * Image-to-image over the real GPU function: signed binary frames (shared/protocol.ts encodeInferFrame) into the
 * real worker + ORT CPU sessions on the tiny model.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchKey } from "../../../gpu-fn/server/batcher";
import { signRequest } from "../../../shared/hmac";
import {
  encodeInferFrame,
  INFER_FRAME_CONTENT_TYPE,
  INFER_PATH,
  type InferRequestInput,
} from "../../../shared/protocol";
import { inferBody, pixels, SECRET, signedInfer, startTestServer, tinyModelDir } from "./server-helpers";

/** A deterministic test picture: gradients and a box, RGB8. */
function picture(width: number, height: number, phase = 0): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const box = x > width / 4 && x < width / 2 && y > height / 3 && y < (2 * height) / 3;
      rgb[i] = box ? 255 : (x * 255) / width + phase;
      rgb[i + 1] = box ? 255 : (y * 255) / height;
      rgb[i + 2] = (((x + y) * 4 + phase) & 0xff) as number;
    }
  }
  return rgb;
}

function i2iRequest(
  over: Partial<InferRequestInput> = {},
  init: { width: number; height: number; strength: number } = { width: 64, height: 64, strength: 0.5 },
): InferRequestInput {
  return inferBody({ ...over, init_image: { format: "rgb8", ...init } });
}

async function signedFrame(
  url: string,
  frame: Uint8Array,
  tamper?: (b: Uint8Array) => void,
): Promise<Response> {
  const signed = await signRequest({ secret: SECRET, method: "POST", path: INFER_PATH, body: frame });
  tamper?.(frame);
  return fetch(url + INFER_PATH, {
    method: "POST",
    body: frame,
    headers: { "content-type": INFER_FRAME_CONTENT_TYPE, ...signed },
  });
}

type ErrorBody = { error: { code: string; param?: string; message: string } };
const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error;

const sendI2I = (url: string, req: InferRequestInput, rgb: Uint8Array) =>
  signedFrame(url, encodeInferFrame(req, rgb));

describe("image-to-image on the GPU function (tiny model, real worker + ORT CPU)", () => {
  let url: string;
  let shutdown: () => Promise<void>;
  beforeAll(async () => {
    const s = await startTestServer({ maxBatch: 1 });
    await s.fn.ready;
    url = s.url;
    shutdown = s.fn.shutdown;
  });
  afterAll(async () => {
    await shutdown?.();
  });

  it("answers a signed frame with an image, the steps that ran, and encoder timing; deterministic per input", async () => {
    const rgb = picture(64, 64);
    const req = i2iRequest({ steps: 4, seed: 7 });
    const a = await sendI2I(url, req, rgb);
    expect(a.status).toBe(200);
    expect(a.headers.get("content-type")).toBe("image/png");
    expect(a.headers.get("x-zi-steps-run")).toBe("2"); // 4 steps, strength 0.5 -> t_start 2
    expect(a.headers.get("server-timing")).toMatch(/vae_encode;dur=\d/);
    const pa = await pixels(a);
    expect(pa.length).toBe(64 * 64 * 3);
    const again = await pixels(await sendI2I(url, { ...req, request_id: "again" }, rgb));
    expect(Buffer.from(again).equals(Buffer.from(pa))).toBe(true);
    const other = await pixels(await sendI2I(url, { ...req, request_id: "other" }, picture(64, 64, 90)));
    expect(Buffer.from(other).equals(Buffer.from(pa))).toBe(false);
    // Text-to-image with the same seed is another image (the noise is the generator's second draw here).
    const t2i = await signedInfer(url, inferBody({ steps: 4, seed: 7 }));
    expect(t2i.headers.get("x-zi-steps-run")).toBe("4");
    expect(Buffer.from(await pixels(t2i)).equals(Buffer.from(pa))).toBe(false);
  });

  it("resizes an input of another size (not a multiple of 16) to the output size", async () => {
    const res = await sendI2I(
      url,
      i2iRequest({}, { width: 50, height: 37, strength: 0.75 }),
      picture(50, 37),
    );
    expect(res.status).toBe(200);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
    expect(res.headers.get("server-timing")).toMatch(/resize;dur=/);
  });

  it("signs the pixels: one changed input byte after signing is a 401", async () => {
    const frame = encodeInferFrame(i2iRequest(), picture(64, 64));
    const res = await signedFrame(url, frame, (b) => {
      b[b.length - 1] ^= 1;
    });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe("bad_signature");
  });

  it("400 with clear codes for malformed frames, wrong pixel counts and an out-of-range strength", async () => {
    const short = await sendI2I(url, i2iRequest(), picture(64, 63));
    expect(short.status).toBe(400);
    expect(await errorOf(short)).toMatchObject({ code: "invalid_init_image", param: "init_image" });

    const noInit = await sendI2I(url, inferBody(), picture(8, 8));
    expect(noInit.status).toBe(400);
    expect((await errorOf(noInit)).code).toBe("invalid_init_image");

    const broken = encodeInferFrame(i2iRequest(), picture(64, 64));
    new DataView(broken.buffer).setUint32(4, broken.length, true); // JSON length past the end
    const bad = await signedFrame(url, broken);
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).code).toBe("invalid_frame");

    const over = await sendI2I(
      url,
      i2iRequest({}, { width: 64, height: 64, strength: 1.5 }),
      picture(64, 64),
    );
    expect(over.status).toBe(400);
    expect(await errorOf(over)).toMatchObject({ param: "init_image.strength", code: "invalid_parameter" });

    const tiny = await sendI2I(
      url,
      i2iRequest({}, { width: 64, height: 64, strength: 5e-324 }),
      picture(64, 64),
    );
    expect(tiny.status).toBe(422);
    expect(await errorOf(tiny)).toMatchObject({ param: "strength", code: "unsupported_value" });

    // JSON-only init_image (no frame) cannot carry pixels.
    const json = await signedInfer(url, i2iRequest());
    expect(json.status).toBe(400);
    expect((await errorOf(json)).code).toBe("invalid_init_image");
  });
});

describe("image-to-image batching", () => {
  it("groups only requests with the same start step; batched results equal unbatched ones", async () => {
    const rgb = picture(64, 64);
    const reqs = [
      i2iRequest({ seed: 1, steps: 4 }, { width: 64, height: 64, strength: 0.5 }),
      i2iRequest({ seed: 2, steps: 4 }, { width: 64, height: 64, strength: 0.6 }), // 4·0.6 = 2.4 -> t_start 1
      i2iRequest({ seed: 3, steps: 4 }, { width: 64, height: 64, strength: 0.55 }), // t_start int(1.8) = 1
    ];
    const keys = reqs.map((r) =>
      batchKey({
        width: 64,
        height: 64,
        steps: 4,
        guidanceScale: 0,
        promptIds: [1],
        init: { rgb, strength: r.init_image!.strength },
      }),
    );
    expect(keys[1]).toBe(keys[2]);
    expect(keys[0]).not.toBe(keys[1]);

    const { fn, url } = await startTestServer({ maxBatch: 2, maxWaitMs: 2000 });
    let batched: Uint8Array[];
    try {
      await fn.ready;
      const res = await Promise.all(reqs.map((r) => sendI2I(url, r, rgb)));
      expect(res.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(res.map((r) => r.headers.get("x-zi-batch-size"))).toEqual(["1", "2", "2"]);
      batched = await Promise.all(res.map(pixels));
    } finally {
      await fn.shutdown();
    }
    const single = await startTestServer({ maxBatch: 1 });
    try {
      await single.fn.ready;
      for (const [i, r] of reqs.entries()) {
        const alone = await pixels(await sendI2I(single.url, { ...r, request_id: `alone-${i}` }, rgb));
        let maxDiff = 0;
        for (let k = 0; k < alone.length; k++)
          maxDiff = Math.max(maxDiff, Math.abs(alone[k] - batched[i][k]));
        expect(maxDiff).toBeLessThanOrEqual(1);
      }
    } finally {
      await single.fn.shutdown();
    }
  });
});

describe("a model folder converted before image-to-image", () => {
  it("serves text-to-image and answers image-to-image with 422 and the one-line rebuild hint", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zi-old-model-"));
    try {
      cpSync(await tinyModelDir(), dir, { recursive: true });
      const json = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8"));
      delete json.graphs.vae_encoder;
      writeFileSync(path.join(dir, "model.json"), JSON.stringify(json));
      const { fn, url, logs } = await startTestServer({ modelDir: dir });
      try {
        await fn.ready;
        expect(logs.filter((l) => /converted before image-to-image support/.test(l))).toHaveLength(1);
        expect((await signedInfer(url, inferBody())).status).toBe(200);
        const res = await sendI2I(url, i2iRequest(), picture(64, 64));
        expect(res.status).toBe(422);
        expect((await errorOf(res)).message).toMatch(/rebuild it with `npm run convert`/);
      } finally {
        await fn.shutdown();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
