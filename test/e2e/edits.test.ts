/**
 * Image-to-image end to end: the unmodified `openai` client's `images.edit` (multipart, as the SDK builds it)
 * against the real stack (wrangler dev bundling the WASM decoders, the GPU function on the tiny model with its
 * VAE encoder, redis). Checks the image that comes back, the cache on a repeat, billing with the steps run, and
 * that an edit job (its input kept in R2 until it runs) makes the same pixels as the synchronous edit.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toFile } from "openai";
import type { ImageEditParams } from "openai/resources/images";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/dev/start-stack";
import { type E2EStack, startE2EStack } from "./fixture";

let stack: E2EStack;
beforeAll(async () => {
  stack = await startE2EStack();
});
afterAll(async () => {
  await stack?.stop();
});

const photo = () => readFileSync(join(REPO_ROOT, "test/fixtures/edits/photo64.png"));

/** Our extensions (seed, strength, steps) travel as extra multipart fields. */
const editParams = (p: Record<string, unknown>) => p as unknown as ImageEditParams & { stream?: false };

describe("images.edit through the official openai client", () => {
  it("returns an image of the input's size, cached on repeat, billed with the steps that ran", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const prompt = `a watercolor restyle ${crypto.randomUUID()}`;
    const request = async () =>
      client.images
        .edit(
          editParams({
            image: await toFile(photo(), "photo.png", { type: "image/png" }),
            prompt,
            response_format: "b64_json",
            seed: 11,
            strength: 0.5,
          }),
        )
        .withResponse();

    const first = await request();
    expect(first.response.headers.get("x-cache")).toBe("MISS");
    const body = first.data as unknown as {
      size: string;
      usage: { steps: number };
      data: { b64_json: string }[];
    };
    expect(body.size).toBe("64x64");
    expect(body.usage.steps).toBe(4); // 8 steps, strength 0.5
    const bytes = Buffer.from(body.data[0].b64_json, "base64");
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 64, 64]);
    // The output is not the input passed through (4 denoising steps ran on the random-weight model).
    const out = await sharp(bytes).raw().toBuffer();
    const input = await sharp(photo()).raw().toBuffer();
    expect(out.equals(input)).toBe(false);

    const second = await request();
    expect(second.response.headers.get("x-cache")).toBe("HIT");
    expect((second.data.data ?? [])[0].b64_json).toBe(body.data[0].b64_json);

    const usage = await stack.usage(apiKey);
    expect(usage).toMatchObject({ images: 2, generated: 1, cache_hits: 1 });
  });

  it("streams an edit through the SDK's stream iterator: image_edit partials, then the completed image", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const stream = await client.images.edit({
      image: await toFile(photo(), "photo.png", { type: "image/png" }),
      prompt: `a streamed restyle ${crypto.randomUUID()}`,
      size: "64x64" as "1024x1024",
      stream: true,
      partial_images: 1,
    });
    const types: string[] = [];
    let completed: string | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "image_edit.completed") completed = event.b64_json;
    }
    expect(types.filter((t) => t !== ("image_edit.progress" as string))).toEqual([
      "image_edit.partial_image",
      "image_edit.completed",
    ]);
    const meta = await sharp(Buffer.from(completed ?? "", "base64")).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
  });

  it("an edit job (Prefer: wait) makes, from its stored input, the image the synchronous edit makes", async () => {
    const { apiKey } = await stack.newAccount();
    const fields = { prompt: `a job restyle ${crypto.randomUUID()}`, seed: "5", strength: "0.5" };
    const send = (extra: Record<string, string>, headers: Record<string, string>) => {
      const form = new FormData();
      form.append("image", new File([photo()], "photo.png", { type: "image/png" }));
      for (const [k, v] of Object.entries({ ...fields, ...extra })) form.append(k, v);
      return fetch(`${stack.urls.edge}/v1/images/edits`, {
        method: "POST",
        body: form,
        headers: { authorization: `Bearer ${apiKey}`, ...headers },
      });
    };
    const res = await send({}, { prefer: "wait=60" });
    expect(res.status).toBe(200);
    const job = (await res.json()) as {
      operation: string;
      status: string;
      result: { data: { url: string }[]; usage: { steps: number } };
    };
    expect(job).toMatchObject({
      operation: "image_edit",
      status: "succeeded",
      result: { usage: { steps: 4 } },
    });
    const fromJob = Buffer.from(await (await fetch(job.result.data[0].url)).arrayBuffer());

    // embed_metadata changes the cache key (other file bytes), not the pixels: a fresh synchronous generation.
    const sync = await send({ embed_metadata: "true", response_format: "b64_json" }, {});
    expect(sync.headers.get("x-cache")).toBe("MISS");
    const syncBody = (await sync.json()) as { data: { b64_json: string }[] };
    const fromSync = Buffer.from(syncBody.data[0].b64_json, "base64");
    const pixels = (bytes: Buffer) => sharp(bytes).raw().toBuffer();
    expect((await pixels(fromJob)).equals(await pixels(fromSync))).toBe(true);
    expect((await pixels(fromJob)).equals(await pixels(photo()))).toBe(false);
  });

  it("answers a mask with the documented 400", async () => {
    const { apiKey } = await stack.newAccount();
    const client = stack.openai(apiKey);
    const err = await client.images
      .edit(
        editParams({
          image: await toFile(photo(), "photo.png", { type: "image/png" }),
          mask: await toFile(photo(), "mask.png", { type: "image/png" }),
          prompt: "x",
        }),
      )
      .catch((e: unknown) => e as { status: number; code: string; param: string });
    expect(err).toMatchObject({ status: 400, code: "mask_not_supported", param: "mask" });
  });
});
