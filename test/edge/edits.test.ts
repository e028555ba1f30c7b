/**
 * POST /v1/images/edits in the Workers runtime: multipart as the openai SDK sends it, the input decoded by the
 * Worker's WASM codecs (fixtures encoded by sharp on Node: test/fixtures/edits/make.ts), the signed frame to the
 * (fake) GPU, the cache key over the normalised pixels, and the errors of every bad input.
 */
import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { normalizeInputImage } from "../../edge/images-input";
import type { CanonicalImageRequest } from "../../shared/cache-key";
import { privateCacheKey } from "../../shared/private-cache-key";
import { EDIT_FIXTURES } from "../fixtures/edits/fixtures";
import { ORIGIN, readError, readJson, testImageRequest, uniquePrompt } from "./support/api";
import { healthyFakeGpu } from "./support/fake-gpu";

afterEach(() => vi.restoreAllMocks());

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const fixture = (name: string) => Uint8Array.from(atob(EDIT_FIXTURES[name]), (ch) => ch.charCodeAt(0));

function editForm(fields: Record<string, string>, images: [string, Uint8Array, string][] = []): FormData {
  const form = new FormData();
  for (const [name, bytes, filename] of images)
    form.append(name, new File([bytes], filename, { type: "image/png" }));
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

const postEdit = (form: FormData, headers: Record<string, string> = {}) =>
  SELF.fetch(`${ORIGIN}/v1/images/edits`, { method: "POST", body: form, headers });

describe("input normalisation (WASM codecs in workerd)", () => {
  it("decodes PNG, lossless WebP and RGBA PNG exactly; JPEG as libjpeg-turbo does", async () => {
    const expected = fixture("rgb.rgb");
    for (const name of ["rgb.png", "rgb.webp", "rgba.png"]) {
      const img = await normalizeInputImage(fixture(name));
      expect([img.width, img.height], name).toEqual([40, 24]);
      // RGBA: alpha is dropped, the colour under transparent pixels kept (PIL convert("RGB")).
      expect(bytesEqual(img.rgb, expected), name).toBe(true);
    }
    // JPEG: the Worker's MozJPEG and libvips' libjpeg-turbo (both IDCT islow, fancy upsampling) agree.
    const jpeg = await normalizeInputImage(fixture("rgb.jpg"));
    const libjpeg = fixture("rgb.jpg.rgb");
    let maxDiff = 0;
    for (let i = 0; i < libjpeg.length; i++) maxDiff = Math.max(maxDiff, Math.abs(jpeg.rgb[i] - libjpeg[i]));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  it("applies EXIF orientation (PNG eXIf, JPEG APP1) and hashes the upright pixels", async () => {
    const upright = fixture("rot6.rgb");
    const png = await normalizeInputImage(fixture("rot6.png"));
    expect([png.width, png.height]).toEqual([24, 40]);
    expect(bytesEqual(png.rgb, upright)).toBe(true);
    const jpg = await normalizeInputImage(fixture("rot6.jpg"));
    expect([jpg.width, jpg.height]).toEqual([24, 40]);
    const plain = await normalizeInputImage(fixture("rgb.png"));
    expect(plain.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(png.hash).not.toBe(plain.hash);
    // Same pixels from another container (WebP) -> the same hash.
    expect((await normalizeInputImage(fixture("rgb.webp"))).hash).toBe(plain.hash);
  });
});

describe("POST /v1/images/edits", () => {
  it("generates from the input on a miss (signed frame with the pixels), then answers from the cache", async () => {
    const gpu = healthyFakeGpu().install();
    const prompt = uniquePrompt("restyle as watercolor");
    const fields = { prompt, seed: "5", size: "64x64", strength: "0.6" };
    const res = await postEdit(editForm(fields, [["image", fixture("rgb.png"), "in.png"]]));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("MISS");
    const body = await readJson(res);
    expect(body.size).toBe("64x64");
    expect(body.usage).toMatchObject({ images: 1, generated: 1, steps: 5 }); // 8 steps, strength 0.6 -> 5 run
    expect(gpu.calls).toHaveLength(1);
    const call = gpu.calls[0];
    expect(call.auth).toBe("ok");
    expect(call.body).toMatchObject({
      prompt,
      width: 64,
      height: 64,
      steps: 8,
      seed: 5,
      init_image: { format: "rgb8", width: 40, height: 24, strength: 0.6 },
    });
    expect(bytesEqual(call.pixels!, fixture("rgb.rgb"))).toBe(true);

    const input = await normalizeInputImage(fixture("rgb.png"));
    const canonical: CanonicalImageRequest = {
      ...testImageRequest(prompt, 5),
      init: { imageHash: input.hash, strength: 0.6 },
    };
    const key = await privateCacheKey(canonical, { secret: env.CACHE_KEY_SECRET });
    expect(body.data[0].url).toBe(`${ORIGIN}/v1/images/${key}.png`);

    // Same picture in another container, a strength with the same start step: a cache hit, no GPU call.
    const again = await postEdit(
      editForm({ ...fields, strength: "0.62" }, [["image[]", fixture("rgb.webp"), "in.webp"]]),
    );
    expect(again.status).toBe(200);
    expect(again.headers.get("x-cache")).toBe("HIT");
    expect((await readJson(again)).data[0].url).toBe(body.data[0].url);
    expect(gpu.calls).toHaveLength(1);

    // Another picture: a miss.
    const other = await postEdit(editForm(fields, [["image", fixture("rot6.png"), "r.png"]]));
    expect(other.headers.get("x-cache")).toBe("MISS");
    expect(gpu.calls).toHaveLength(2);
  });

  it('size "auto" is the input size fitted to the limits in multiples of 16; b64_json returns bytes', async () => {
    const gpu = healthyFakeGpu().install();
    const res = await postEdit(
      editForm({ prompt: uniquePrompt("auto size"), response_format: "b64_json" }, [
        ["image", fixture("photo64.png"), "p.png"],
      ]),
    );
    expect(res.status).toBe(200);
    const body = await readJson(res);
    expect(body.size).toBe("64x64");
    expect(body.data[0].b64_json).toBeTruthy();
    const rot = await postEdit(
      editForm({ prompt: uniquePrompt("auto size 2") }, [["image", fixture("rot6.png"), "r.png"]]),
    );
    // Upright 24x40, below the deployment's 64-px minimum side: scaled up to 64 wide, aspect kept, 16-multiples.
    expect((await readJson(rot)).size).toBe("64x96");
    expect(gpu.calls.map((c) => [c.body?.width, c.body?.height])).toEqual([
      [64, 64],
      [64, 96],
    ]);
  });

  it("stream: true answers OpenAI's image_edit events: previews, then the completed image with its usage", async () => {
    const gpu = healthyFakeGpu().install();
    const res = await postEdit(
      editForm(
        { prompt: uniquePrompt("streamed edit"), size: "64x64", stream: "true", partial_images: "1" },
        [["image", fixture("rgb.png"), "in.png"]],
      ),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = (await res.text())
      .split("\n\n")
      .map((block) =>
        block
          .split("\n")
          .find((line) => line.startsWith("data: "))
          ?.slice(6),
      )
      .filter((data): data is string => data !== undefined && data !== "[DONE]")
      .map((data) => JSON.parse(data) as { type: string; b64_json?: string; usage?: { steps: number } });
    const types = events.map((e) => e.type).filter((t) => !t.endsWith(".progress"));
    expect(types).toEqual(["image_edit.partial_image", "image_edit.completed"]);
    const completed = events.at(-1)!;
    // strength 0.6 of 8 steps runs 5: what is billed and reported.
    expect(completed.usage?.steps).toBe(5);
    expect(completed.b64_json?.length).toBeGreaterThan(0);
    expect(gpu.calls).toHaveLength(1);
    // The streaming GPU route got the signed frame with the input's pixels.
    expect(gpu.calls[0].path).toBe("/v1/infer/stream");
    expect(gpu.calls[0].pixels?.length).toBeGreaterThan(0);
  });

  it("reads every number and boolean field from its text part, as the SDKs send them", async () => {
    const gpu = healthyFakeGpu().install();
    const res = await postEdit(
      editForm(
        {
          prompt: uniquePrompt("typed fields"),
          size: "64x64",
          embed_metadata: "true",
          guidance_scale: "2.5",
          steps: "6",
          seed: "random",
          strength: "0.75",
        },
        [["image", fixture("rgb.png"), "in.png"]],
      ),
    );
    expect(res.status).toBe(200);
    const body = gpu.calls[0].body as Record<string, unknown>;
    expect(body).toMatchObject({
      embed_metadata: true,
      guidance_scale: 2.5,
      steps: 6,
      init_image: { strength: 0.75 },
    });
    expect(typeof body.seed).toBe("number");
  });

  it("refuses mask, several images, a missing image and bad parameters with clear 400s", async () => {
    healthyFakeGpu().install();
    const png = fixture("rgb.png");
    const cases: [FormData, string, string | null][] = [
      [
        editForm({ prompt: "p" }, [
          ["image", png, "a.png"],
          ["mask", png, "m.png"],
        ]),
        "mask_not_supported",
        "mask",
      ],
      [
        editForm({ prompt: "p" }, [
          ["image[]", png, "a.png"],
          ["image[]", png, "b.png"],
        ]),
        "too_many_images",
        "image",
      ],
      [editForm({ prompt: "p" }), "missing_image", "image"],
      [editForm({ prompt: "p", strength: "0" }, [["image", png, "a.png"]]), "too_small", "strength"],
      [editForm({ prompt: "p", strength: "1.5" }, [["image", png, "a.png"]]), "too_big", "strength"],
      // 8 · 5e-324 vanishes next to 8: t_start would be 8, no step would run.
      [
        editForm({ prompt: "p", strength: "5e-324" }, [["image", png, "a.png"]]),
        "strength_too_small",
        "strength",
      ],
      [editForm({ prompt: "p", size: "65x64" }, [["image", png, "a.png"]]), "custom", "size"],
      [editForm({ prompt: "p" }, [["image", fixture("corrupt.png"), "a.png"]]), "invalid_image", "image"],
      [
        editForm({ prompt: "p" }, [["image", new TextEncoder().encode("GIF89a......"), "a.gif"]]),
        "unsupported_image_format",
        "image",
      ],
      [
        editForm({ prompt: "p" }, [["image", fixture("huge.png"), "a.png"]]),
        "image_too_many_pixels",
        "image",
      ],
    ];
    for (const [form, code, param] of cases) {
      const res = await postEdit(form);
      expect(res.status, code).toBe(400);
      expect(await readError(res), code).toMatchObject({ code, param });
    }
  });

  it("413 for an image over the byte limit, 415 for a JSON body", async () => {
    healthyFakeGpu().install();
    const big = new Uint8Array(11 * 1024 * 1024);
    big.set(fixture("rgb.png"));
    const res = await postEdit(editForm({ prompt: "p" }, [["image", big, "big.png"]]));
    expect(res.status).toBe(413);
    expect((await readError(res)).code).toMatch(/body_too_large|image_too_large/);

    const json = await SELF.fetch(`${ORIGIN}/v1/images/edits`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "p" }),
    });
    expect(json.status).toBe(415);
  });
});
