/**
 * The pages in a real browser (Debian chromium via playwright-core) against the real local stack: `/docs`
 * renders the operations of the live OpenAPI document, the playground generates an image of the requested size,
 * a repeat is a cache hit, errors show what the envelope says (401, 403, 429 with its countdown), the copied
 * code runs, history reopens, nothing is loaded from another origin, and a phone-width screen never scrolls
 * sideways.
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/dev/start-stack";
import { E2E_PLAN, type E2EStack, startE2EStack } from "../e2e/fixture";
import { awayFromMinuteBoundary } from "../support/minute-window";
import { hasHorizontalScroll, launchChromium, screenshot } from "./browser";

const run = promisify(execFile);

let stack: E2EStack;
let browser: Browser;
let origin: string;
/** Key of an account on the E2E plan (1 megapixel, no practical rate limit). */
let apiKey: string;
const contexts: BrowserContext[] = [];
/** The stack starts with empty state (a fresh R2), so its first generation is a cache miss. */
const prompt = "a lighthouse at dawn, watercolor";

beforeAll(async () => {
  stack = await startE2EStack();
  origin = stack.urls.edge;
  apiKey = (await stack.newAccount()).apiKey;
  browser = await launchChromium();
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await stack?.stop();
});

interface Opened {
  page: Page;
  /** Requests that left this origin (must stay empty: the pages work offline). */
  foreign: string[];
}

async function open(path: string, options: { width?: number; clipboard?: boolean } = {}): Promise<Opened> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: 900 },
    permissions: options.clipboard ? ["clipboard-read", "clipboard-write"] : [],
  });
  contexts.push(context);
  const page = await context.newPage();
  const foreign: string[] = [];
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) foreign.push(url);
  });
  await page.goto(`${origin}${path}`);
  return { page, foreign };
}

interface Form {
  key?: string;
  prompt: string;
  size: string;
  seed?: number;
}

async function fillPlayground(page: Page, form: Form): Promise<void> {
  if (form.key !== undefined) await page.getByLabel("API key").fill(form.key);
  await page.getByLabel("Prompt", { exact: true }).fill(form.prompt);
  await page.getByLabel("Size preset").selectOption(form.size);
  await page.getByRole("spinbutton", { name: "Seed" }).fill(form.seed === undefined ? "" : String(form.seed));
}

/** Waits for the result and returns the first image's decoded size and the cache status shown. */
async function result(page: Page): Promise<{ width: number; height: number; cache: string }> {
  const img = page.locator("#images figure img").first();
  await img.waitFor();
  const size = await img.evaluate(async (el: HTMLImageElement) => {
    await el.decode();
    return { width: el.naturalWidth, height: el.naturalHeight };
  });
  const cache = (await page.locator('[data-meta="cache"]').textContent()) ?? "";
  return { ...size, cache };
}

describe("/docs", () => {
  it("renders every operation of the live OpenAPI document, with nothing from another origin", async () => {
    const spec = (await (await fetch(`${origin}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toContain("POST /v1/images/generations");

    const { page, foreign } = await open("/docs");
    await page.locator(".opblock").first().waitFor();
    const shown = await page
      .locator(".opblock-summary")
      .evaluateAll((blocks) =>
        blocks.map(
          (b) =>
            `${b.querySelector(".opblock-summary-method")?.textContent?.trim()} ${b
              .querySelector(".opblock-summary-path")
              ?.getAttribute("data-path")}`,
        ),
      );
    expect(shown.sort()).toEqual([...operations].sort());
    // The getting-started block names this server and the key scheme; Authorize offers the bearer scheme.
    await expect(page.locator("[data-snippet=curl]").textContent()).resolves.toContain(
      `${origin}/v1/images/generations`,
    );
    await expect(page.locator(".auth-wrapper .authorize").count()).resolves.toBe(1);
    await screenshot(page, "docs", "docs-page.png", "#swagger-ui");
    expect(foreign).toEqual([]);
  });

  it("'Try it out' sends the pasted key to this server and shows the answer", async () => {
    const { page } = await open("/docs");
    await page.locator(".auth-wrapper .authorize").click();
    // One form per documented scheme (apiKey, adminToken): fill the API key's.
    const scheme = page.locator(".modal-ux .auth-container", { hasText: "apiKey" });
    await scheme.locator("input").fill(apiKey);
    await scheme.locator("button.authorize").click();
    await page.locator(".modal-ux button.close-modal").click();
    const models = page.locator(".opblock-get", { has: page.locator('[data-path="/v1/models"]') });
    await models.locator(".opblock-summary").click();
    await models.getByRole("button", { name: "Try it out" }).click();
    await models.getByRole("button", { name: "Execute" }).click();
    const status = models.locator(".live-responses-table tbody .response-col_status").first();
    await expect.poll(() => status.textContent()).toContain("200");
    await expect(
      models.locator(".live-responses-table .microlight").first().textContent(),
    ).resolves.toContain("z-image-turbo");
  });
});

describe("/playground", () => {
  it("takes the dev key from the URL fragment, generates an image of the requested size, and a repeat is a cache hit", async () => {
    const { page, foreign } = await open(`/playground#key=${apiKey}`, { clipboard: true });
    // The fragment is gone from the address bar; the key is in the field (kept in local storage).
    expect(new URL(page.url()).hash).toBe("");
    await expect(page.getByLabel("API key").inputValue()).resolves.toBe(apiKey);

    const sent = page.waitForRequest(`${origin}/v1/images/generations`);
    await fillPlayground(page, { prompt, size: "256x256", seed: 7 });
    await page.getByRole("button", { name: "Generate" }).click();
    await expect(page.locator("#status").textContent()).resolves.toMatch(/Generating 256x256/);
    // The stream's progress events drive the status: step k of the 8.
    await page.waitForFunction(() =>
      /step \d+\/8/.test(document.querySelector("#status")?.textContent ?? ""),
    );
    // The server documents its text/event-stream answer, so the page streams, with two previews.
    expect((await sent).postDataJSON()).toEqual({
      prompt,
      size: "256x256",
      n: 1,
      seed: 7,
      guidance_scale: 0,
      output_format: "png",
      response_format: "url",
      stream: true,
      partial_images: 2,
    });
    const first = await result(page);
    expect(first).toEqual({ width: 256, height: 256, cache: "MISS" });
    const figure = page.locator("#images figure").first();
    await expect(figure.textContent()).resolves.toContain("7");
    // The price shown is what the plan charges: base + 256*256*8 px-steps at 500 micro-USD per megapixel-step.
    const generated =
      E2E_PLAN.image_base_micros + Math.ceil((256 * 256 * 8 * E2E_PLAN.megapixel_step_micros) / 1e6);
    await expect(page.locator('[data-meta="price"]').textContent()).resolves.toBe(
      `$${(generated / 1e6).toFixed(6)}`,
    );
    await expect(page.locator('[data-meta="latency"]').textContent()).resolves.toMatch(/^\d+ ms$/);

    await page.getByRole("button", { name: "Same again" }).click();
    await expect.poll(() => page.locator('[data-meta="cache"]').textContent()).toBe("HIT");
    expect((await result(page)).width).toBe(256);
    await expect(page.locator('[data-meta="price"]').textContent()).resolves.toBe(
      `$${(E2E_PLAN.cache_hit_micros / 1e6).toFixed(6)}`,
    );
    await screenshot(page, "playground", "playground.png");
    expect(foreign).toEqual([]);

    // Copy as curl / as openai (Node): the copied code runs and gets the same image.
    await page.getByRole("button", { name: "Copy as curl" }).click();
    const curl = await page.evaluate(() => navigator.clipboard.readText());
    expect(curl).toContain(JSON.stringify(prompt));
    const env = { ...process.env, ZI_API_KEY: apiKey };
    const curlOut = JSON.parse((await run("bash", ["-c", curl], { env })).stdout) as {
      data: { url: string; seed: number }[];
    };
    expect(curlOut.data[0]?.seed).toBe(7);

    await page.getByRole("button", { name: "Copy as openai (Node)" }).click();
    const node = await page.evaluate(() => navigator.clipboard.readText());
    // Inside the repository so `import "openai"` resolves; .cache/ is git-ignored.
    const dir = join(REPO_ROOT, ".cache");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `playground-snippet-${process.pid}.mjs`);
    writeFileSync(file, node);
    try {
      const { stdout } = await run(process.execPath, [file], { env });
      expect(stdout).toContain(curlOut.data[0]?.url);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("edits a chosen image: multipart to /v1/images/edits at the image's size, streamed, a repeat hits, the copied curl runs", async () => {
    const { page, foreign } = await open(`/playground#key=${apiKey}`, { clipboard: true });
    const fixtures = join(REPO_ROOT, "test/fixtures/edits");
    await page.getByLabel("Image to start from").setInputFiles(join(fixtures, "photo64.png"));
    // Choosing an image offers (and selects) the image's own size.
    await expect(page.getByLabel("Size preset").inputValue()).resolves.toBe("auto");
    await page.getByLabel("Prompt", { exact: true }).fill(`${prompt}, restyled`);
    await page.getByRole("spinbutton", { name: "Strength" }).fill("0.5");
    await page.getByRole("spinbutton", { name: "Seed" }).fill("3");
    // Every status line shown while it runs (a 64x64 edit can finish between two polls of the page).
    await page.evaluate(() => {
      const w = window as unknown as { statusLines: string[] };
      w.statusLines = [];
      const status = document.getElementById("status") as HTMLElement;
      new MutationObserver(() => w.statusLines.push(status.textContent ?? "")).observe(status, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    const sent = page.waitForRequest(`${origin}/v1/images/edits`);
    await page.getByRole("button", { name: "Generate" }).click();
    const request = await sent;
    expect(request.headers()["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(await result(page)).toEqual({ width: 64, height: 64, cache: "MISS" });
    // 8 steps at strength 0.5 run the last 4: the stream's progress counts those.
    const lines = await page.evaluate(() => (window as unknown as { statusLines: string[] }).statusLines);
    expect(lines.some((line) => /step [1-4]\/4,/.test(line))).toBe(true);
    // The strength reached the server: billed for the 4 steps that ran, at the image's 64x64.
    const billed =
      E2E_PLAN.image_base_micros + Math.ceil((64 * 64 * 4 * E2E_PLAN.megapixel_step_micros) / 1e6);
    await expect(page.locator('[data-meta="price"]').textContent()).resolves.toBe(
      `$${(billed / 1e6).toFixed(6)}`,
    );
    await expect(page.locator("#images figure").first().textContent()).resolves.toContain("3");
    await page.getByRole("button", { name: "Same again" }).click();
    await expect.poll(() => page.locator('[data-meta="cache"]').textContent()).toBe("HIT");
    await expect(page.locator("#history button").first().textContent()).resolves.toContain(
      "edit of photo64.png",
    );
    await screenshot(page, "playground-edit");
    expect(foreign).toEqual([]);

    // The copied curl sends the same edit from the image's folder: the cached image, same seed.
    await page.getByRole("button", { name: "Copy as curl" }).click();
    const curl = await page.evaluate(() => navigator.clipboard.readText());
    expect(curl).toContain("/v1/images/edits");
    const env = { ...process.env, ZI_API_KEY: apiKey };
    const out = JSON.parse((await run("bash", ["-c", curl], { env, cwd: fixtures })).stdout) as {
      data: { url: string; seed: number }[];
    };
    expect(out.data[0]?.seed).toBe(3);
    const shown = await page.locator("#images figure a").first().getAttribute("href");
    expect(out.data[0]?.url).toBe(shown);
  });

  it("keeps a history in this browser that reopens a generation", async () => {
    const { page } = await open(`/playground#key=${apiKey}`);
    await fillPlayground(page, { prompt: `${prompt} history`, size: "256x256", seed: 11 });
    await page.getByRole("button", { name: "Generate" }).click();
    await result(page);
    await page.reload();
    await expect(page.locator("#images figure").count()).resolves.toBe(0);
    const entry = page.locator("#history button").first();
    await expect(entry.textContent()).resolves.toContain("history");
    await entry.click();
    const reopened = await result(page);
    expect(reopened.width).toBe(256);
    await expect(page.getByRole("spinbutton", { name: "Seed" }).inputValue()).resolves.toBe("11");
  });

  it("shows the 401 envelope for a bad key", async () => {
    const { page } = await open("/playground");
    await fillPlayground(page, { key: "zi_live_not_a_real_key_000000000000", prompt, size: "256x256" });
    await page.getByRole("button", { name: "Generate" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(/401: Authentication failed/);
    await expect(alert.textContent()).resolves.toContain("authentication_error");
    await screenshot(page, "playground-401");
  });

  it("shows a plan limit (403) as the envelope says", async () => {
    await stack.admin.putPlan("browser-small", { ...E2E_PLAN, name: "Small", max_pixels: 256 * 256 });
    const small = await stack.newAccount("browser-small");
    const { page } = await open("/playground");
    await fillPlayground(page, { key: small.apiKey, prompt, size: "512x512" });
    await page.getByRole("button", { name: "Generate" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(/403: Not allowed/);
    await expect(alert.textContent()).resolves.toContain("plan_max_pixels");
  });

  it("counts a 429's Retry-After down and keeps Generate disabled meanwhile", async () => {
    await stack.admin.putPlan("browser-tight", { ...E2E_PLAN, name: "Tight", requests_per_minute: 1 });
    const tight = await stack.newAccount("browser-tight");
    // Both requests inside one minute window: across a boundary the sliding window can admit the second one.
    await awayFromMinuteBoundary(20_000);
    const { page } = await open("/playground");
    // The first request uses the minute's one request (a cache hit of the first test's image).
    await fillPlayground(page, { key: tight.apiKey, prompt, size: "256x256", seed: 7 });
    await page.getByRole("button", { name: "Generate" }).click();
    await result(page);
    await page.getByRole("button", { name: "Same again" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(/429: Rate limit reached/);
    await expect(alert.textContent()).resolves.toContain("rate_limit_exceeded");
    const retry = page.locator("[data-retry]");
    const first = Number(/Retry in (\d+) s/.exec((await retry.textContent()) ?? "")?.[1]);
    expect(first).toBeGreaterThan(0);
    await expect(page.getByRole("button", { name: "Generate" }).isDisabled()).resolves.toBe(true);
    // It counts down (polls until the shown number drops; the window is at most 60 s).
    await expect
      .poll(async () => Number(/Retry in (\d+) s/.exec((await retry.textContent()) ?? "")?.[1] ?? 0), {
        timeout: 5000,
      })
      .toBeLessThan(first);
    await screenshot(page, "playground-429");
  });
});

describe("/playground streaming (SSE consumer)", () => {
  // The server does not stream yet: these tests document a text/event-stream answer in /openapi.json and answer the one
  // generation request with OpenAI-style server-sent events made of a real image from the stack, so the
  // page's feature detection and event parsing are tested now; the rest of the page talks to the real stack.
  async function streamingPage(events: string[]): Promise<{ page: Page; sent: Record<string, unknown>[] }> {
    const { page } = await open(`/playground#key=${apiKey}`);
    const sent: Record<string, unknown>[] = [];
    await page.route(`${origin}/openapi.json`, async (route) => {
      const res = await route.fetch();
      const doc = await res.json();
      doc.paths["/v1/images/generations"].post.responses["200"].content["text/event-stream"] = {
        schema: { type: "string" },
      };
      await route.fulfill({ response: res, json: doc });
    });
    await page.route(`${origin}/v1/images/generations`, async (route) => {
      sent.push(route.request().postDataJSON());
      await route.fulfill({
        status: 200,
        headers: { "content-type": "text/event-stream", "x-cache": "MISS", "x-usage-amount-micros": "1262" },
        body: events.map((e) => `data: ${e}\n\n`).join(""),
      });
    });
    await page.reload();
    await page.waitForFunction(() => document.readyState === "complete");
    // Count preview images as they appear (they are replaced by the final image at the end).
    await page.evaluate(() => {
      const w = window as unknown as { previewsSeen: number };
      w.previewsSeen = 0;
      const previews = document.getElementById("previews") as HTMLElement;
      new MutationObserver((records) => {
        for (const r of records)
          w.previewsSeen += [...r.addedNodes].filter((n) => n.nodeName === "IMG").length;
      }).observe(previews, { childList: true });
    });
    return { page, sent };
  }

  async function realImageB64(): Promise<string> {
    const res = await fetch(`${origin}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt, size: "256x256", seed: 7 }),
    });
    const { data } = (await res.json()) as { data: { url: string }[] };
    return Buffer.from(await (await fetch(data[0]?.url ?? "")).arrayBuffer()).toString("base64");
  }

  it("sends stream: true when an event-stream answer is documented, shows the partial previews, then the completed image", async () => {
    const b64 = await realImageB64();
    const base = {
      size: "256x256",
      quality: "auto",
      background: "opaque",
      output_format: "png",
      created_at: 1,
    };
    const { page, sent } = await streamingPage([
      JSON.stringify({
        type: "image_generation.partial_image",
        partial_image_index: 0,
        b64_json: b64,
        ...base,
      }),
      JSON.stringify({
        type: "image_generation.partial_image",
        partial_image_index: 1,
        b64_json: b64,
        ...base,
      }),
      JSON.stringify({
        type: "image_generation.completed",
        b64_json: b64,
        ...base,
        usage: { total_tokens: 0 },
      }),
      "[DONE]",
    ]);
    await fillPlayground(page, { prompt, size: "256x256", seed: 7 });
    await page.getByRole("button", { name: "Generate" }).click();
    const shown = await result(page);
    expect(shown).toEqual({ width: 256, height: 256, cache: "MISS" });
    expect(sent[0]).toMatchObject({ prompt, stream: true, partial_images: 2 });
    await expect(
      page.evaluate(() => (window as unknown as { previewsSeen: number }).previewsSeen),
    ).resolves.toBe(2);
  });

  it("shows a mid-stream error event as the envelope says", async () => {
    const { page } = await streamingPage([
      JSON.stringify({
        error: {
          message: "No GPU backend could make the image",
          type: "service_unavailable",
          code: "gpu_unavailable",
        },
      }),
    ]);
    await fillPlayground(page, { prompt, size: "256x256", seed: 7 });
    await page.getByRole("button", { name: "Generate" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toContain("No GPU backend could make the image");
    await expect(alert.textContent()).resolves.toContain("gpu_unavailable");
  });
});

describe("phone width (375 px)", () => {
  for (const path of ["/", "/playground", "/docs"]) {
    it(`${path} has no horizontal scroll`, async () => {
      const { page } = await open(path === "/playground" ? `/playground#key=${apiKey}` : path, {
        width: 375,
      });
      if (path === "/docs") await page.locator(".opblock").first().waitFor();
      if (path === "/playground") {
        await fillPlayground(page, { prompt, size: "256x256", seed: 7 });
        await page.getByRole("button", { name: "Generate" }).click();
        await result(page);
        await page.locator("#code details").evaluate((el: HTMLDetailsElement) => {
          el.open = true;
        });
      }
      expect(await hasHorizontalScroll(page)).toBe(false);
      await screenshot(page, `phone${path === "/" ? "-home" : path.replaceAll("/", "-")}`);
    });
  }
});

describe("/", () => {
  it("/ links the playground and the docs", async () => {
    const { page } = await open("/");
    await page.getByRole("link", { name: "Playground" }).first().click();
    await page.waitForURL(`${origin}/playground`, { waitUntil: "commit" });
    const { page: home } = await open("/");
    await screenshot(home, "home", "home.png");
    await home.getByRole("link", { name: "API reference" }).first().click();
    await home.waitForURL(`${origin}/docs`, { waitUntil: "commit" });
  });
});

// Last: it kills the GPU function, which the tests above need.
describe("/playground with the GPU function down", () => {
  it("shows the 503 envelope and counts its Retry-After down", async () => {
    await stack.gpu.kill();
    const { page } = await open(`/playground#key=${apiKey}`);
    await fillPlayground(page, { prompt: `${prompt} while the GPU is down`, size: "256x256", seed: 3 });
    await page.getByRole("button", { name: "Generate" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(/503: The service is busy or unavailable/);
    await expect(alert.textContent()).resolves.toContain("service_unavailable");
    // The local stack's breaker cooldown is short (Retry-After: 1), so the countdown may already be over.
    await expect(page.locator("[data-retry]").textContent()).resolves.toMatch(
      /^(Retry in \d+ s|You can retry now\.)$/,
    );
    await screenshot(page, "playground-503");
  });
});
