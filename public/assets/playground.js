// /playground: builds an images request from the form, sends it to this origin with the key kept in this
// browser, and shows progress, the images (seed, size, cache status, latency, price), errors as the API's
// envelope says, copy-as-code, and a local history. With an image chosen the request is an edit
// (image-to-image: multipart POST /v1/images/edits with `strength`). Plain browser JavaScript, no dependencies.

const $ = (id) => document.getElementById(id);
const KEY_STORE = "zi.playground.key";
const HISTORY_STORE = "zi.playground.history";
const HISTORY_MAX = 30;
/** Previews asked for when the server streams (OpenAI's `partial_images`, 0-3). */
const PARTIAL_IMAGES = 2;
const ENDPOINT = "/v1/images/generations";
const EDITS_ENDPOINT = "/v1/images/edits";

const form = $("gen");
const fields = {
  key: $("key"),
  prompt: $("prompt"),
  negative: $("negative_prompt"),
  size: $("size"),
  width: $("width"),
  height: $("height"),
  seed: $("seed"),
  n: $("n"),
  steps: $("steps"),
  quality: $("quality"),
  guidance: $("guidance_scale"),
  format: $("output_format"),
  init: $("init_image"),
  strength: $("strength"),
};
const ui = {
  generate: $("generate"),
  again: $("again"),
  status: $("status"),
  progress: $("progress"),
  error: $("error"),
  previews: $("previews"),
  images: $("images"),
  code: $("code"),
  codeText: $("code-text"),
  history: $("history"),
};

let lastBody = null;
/** The image the next request starts from (a File, kept in this page only), and the one `lastBody` used. */
let initFile = null;
let lastImage = null;
/** The file name of the last edit's image (also for an edit reopened from history, whose file is gone). */
let lastImageLabel = null;
let busy = false;
let retryTimer = 0;
/** While a Retry-After countdown runs, Generate stays disabled. */
let retryUntil = 0;
/** Per endpoint: true when /openapi.json documents its text/event-stream answer (see detectStreaming). */
const streaming = { [ENDPOINT]: false, [EDITS_ENDPOINT]: false };

// ---- key: from the URL fragment (how `npm start` hands over its dev key; fragments never reach the server),
// else from local storage.
function initKey() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    localStorage.setItem(KEY_STORE, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  fields.key.value = localStorage.getItem(KEY_STORE) ?? "";
  fields.key.addEventListener("change", () => localStorage.setItem(KEY_STORE, fields.key.value.trim()));
  $("key-toggle").addEventListener("click", (event) => {
    const show = fields.key.type === "password";
    fields.key.type = show ? "text" : "password";
    event.currentTarget.textContent = show ? "Hide" : "Show";
    event.currentTarget.setAttribute("aria-pressed", String(show));
  });
}

// ---- the request body, from the form and back
function readBody() {
  const body = { prompt: fields.prompt.value.trim() };
  const negative = fields.negative.value.trim();
  if (negative) body.negative_prompt = negative;
  body.size =
    fields.size.value === "custom" ? `${fields.width.value}x${fields.height.value}` : fields.size.value;
  body.n = Number(fields.n.value);
  if (fields.seed.value !== "") body.seed = Number(fields.seed.value);
  if (fields.steps.value !== "") body.steps = Number(fields.steps.value);
  if (fields.quality.value !== "auto") body.quality = fields.quality.value;
  body.guidance_scale = Number(fields.guidance.value);
  body.output_format = fields.format.value;
  body.response_format = "url";
  if (initFile) body.strength = Number(fields.strength.value);
  return body;
}

function fillForm(body) {
  fields.prompt.value = body.prompt ?? "";
  fields.negative.value = body.negative_prompt ?? "";
  const preset = [...fields.size.options].some((o) => o.value === body.size);
  fields.size.value = preset ? body.size : "custom";
  if (!preset && body.size) [fields.width.value, fields.height.value] = body.size.split("x");
  syncCustomSize();
  fields.seed.value = body.seed ?? "";
  fields.n.value = body.n ?? 1;
  fields.steps.value = body.steps ?? "";
  fields.quality.value = body.quality ?? "auto";
  fields.guidance.value = body.guidance_scale ?? 0;
  fields.format.value = body.output_format ?? "png";
  if (body.strength !== undefined) fields.strength.value = body.strength;
}

// ---- the image to start from (image-to-image)
function chooseImage(file) {
  initFile = file ?? null;
  const chosen = initFile !== null;
  $("init-chosen").hidden = !chosen;
  $("strength-row").hidden = !chosen;
  const auto = fields.size.querySelector('option[value="auto"]');
  auto.hidden = !chosen;
  if (chosen) {
    const thumb = $("init-thumb");
    URL.revokeObjectURL(thumb.src);
    thumb.src = URL.createObjectURL(initFile);
    fields.size.value = "auto";
  } else {
    fields.init.value = "";
    if (fields.size.value === "auto") fields.size.value = "1024x1024";
  }
  syncCustomSize();
}

function syncCustomSize() {
  const custom = fields.size.value === "custom";
  $("custom-size").hidden = !custom;
  fields.width.disabled = !custom;
  fields.height.disabled = !custom;
}

// ---- streaming: used when /openapi.json documents a text/event-stream answer of the generations operation
// (a `stream` field alone is not enough: a server may accept the field and refuse `true`), and only when the
// server then answers text/event-stream. A 400 on `stream` turns it off for this page.
async function detectStreaming() {
  try {
    const doc = await (await fetch("/openapi.json")).json();
    for (const endpoint of Object.keys(streaming)) {
      const content = doc.paths?.[endpoint]?.post?.responses?.["200"]?.content ?? {};
      streaming[endpoint] = "text/event-stream" in content;
    }
  } catch {
    for (const endpoint of Object.keys(streaming)) streaming[endpoint] = false;
  }
}

/** The status each envelope type stands for (a streamed error arrives after the 200). */
const STATUS_OF = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  rate_limit_error: 429,
  server_error: 500,
  service_unavailable: 503,
};

/**
 * Reads OpenAI-style image SSE: partial_image events call onPartial, this API's progress events (step k/N)
 * onProgress; completed events become the result.
 */
async function readEventStream(res, onPartial, onProgress) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const result = { created: Math.floor(Date.now() / 1000), data: [] };
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replaceAll("\r\n", "\n");
    for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const payload = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!payload || payload === "[DONE]") continue;
      const event = JSON.parse(payload);
      // A mid-stream error has no HTTP status of its own: the envelope's type says which it would have been.
      if (event.error) {
        // retry_after: what the sync answer would have sent as Retry-After.
        const headers = new Headers(event.retry_after ? { "retry-after": String(event.retry_after) } : {});
        throw Object.assign(new Error(event.error.message), {
          envelope: { error: event.error },
          status: STATUS_OF[event.error.type],
          headers,
        });
      }
      if (event.type?.endsWith(".partial_image")) onPartial(event);
      else if (event.type?.endsWith(".progress") && event.total > 0) onProgress(event);
      else if (event.type?.endsWith(".completed")) result.data.push(event);
    }
  }
  return result;
}

// ---- progress
/** "step k/N, " while a stream reports denoising steps; empty for a plain call (no progress to report). */
let liveStep = "";
/** Redraws the status line of the request in progress (null when none runs). */
let redrawStatus = null;

function showStep(event) {
  liveStep = `step ${event.step}/${event.total}, `;
  ui.progress.max = event.total;
  ui.progress.value = event.step;
  // At once, not at the next tick: a small image can finish all its steps within one tick.
  redrawStatus?.();
}

function startProgress(body) {
  const started = performance.now();
  const steps = body.steps ?? (body.quality === "low" ? 4 : 8);
  const size = body.size === "auto" ? "the image's size" : body.size;
  const what = body.strength === undefined ? "" : `from the image at strength ${body.strength}, `;
  const label = `${size}, ${what}${body.n} image${body.n > 1 ? "s" : ""}, ${steps} steps`;
  ui.progress.hidden = false;
  ui.progress.removeAttribute("value");
  liveStep = "";
  const tick = () => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    ui.status.textContent = `Generating ${label}… ${liveStep}${seconds} s`;
  };
  tick();
  const timer = setInterval(tick, 200);
  redrawStatus = tick;
  return () => {
    clearInterval(timer);
    redrawStatus = null;
    ui.progress.hidden = true;
  };
}

function showPartial(event, body) {
  const k = (event.partial_image_index ?? 0) + 1;
  const img = new Image();
  img.alt = `Preview ${k} of ${PARTIAL_IMAGES}`;
  img.src = `data:image/${event.output_format ?? body.output_format};base64,${event.b64_json}`;
  ui.previews.replaceChildren(img);
}

// ---- results
function readMeta(res, started) {
  const micros = res.headers.get("x-usage-amount-micros");
  return {
    status: res.status,
    cache: res.headers.get("x-cache") ?? "",
    requestId: res.headers.get("x-request-id") ?? "",
    images: res.headers.get("x-usage-images"),
    micros: micros === null ? null : Number(micros),
    latencyMs: Math.round(performance.now() - started),
  };
}

/** A stream's headers go out before the images exist: cache status and price come in its completed events. */
function streamedMeta(res, started, images) {
  const meta = readMeta(res, started);
  const statuses = new Set(images.map((image) => image.cache).filter(Boolean));
  if (statuses.size > 0) meta.cache = statuses.size === 1 ? [...statuses][0] : "PARTIAL";
  const prices = images.map((image) => image.usage?.price_micros).filter((p) => typeof p === "number");
  if (prices.length === images.length && prices.length > 0) {
    meta.micros = prices.reduce((a, b) => a + b, 0);
    meta.images = String(images.length);
  }
  return meta;
}

function price(micros) {
  return micros === null || Number.isNaN(micros) ? "—" : `$${(micros / 1e6).toFixed(6)}`;
}

function showImages(body, images, meta) {
  ui.previews.replaceChildren();
  // size "auto" (an edit at the image's size): the answer says which size it was.
  const size = meta.size ?? body.size;
  const cards = images.map((item, i) => {
    const figure = document.createElement("figure");
    const img = new Image();
    const [w, h] = size.split("x").map(Number);
    img.width = w;
    img.height = h;
    img.alt = `Image ${i + 1}: ${body.prompt}`;
    img.src = item.url ?? `data:image/${body.output_format};base64,${item.b64_json}`;
    img.dataset.size = size;
    const caption = document.createElement("figcaption");
    caption.append(
      metaList([
        ["Seed", String(item.seed ?? body.seed ?? "—")],
        ["Size", size],
        ["Format", body.output_format],
      ]),
    );
    if (item.url) {
      const link = Object.assign(document.createElement("a"), { href: item.url, textContent: "Open image" });
      caption.append(link);
    }
    figure.append(img, caption);
    return figure;
  });
  const summary = metaList([
    ["Cache", meta.cache || "—", "cache"],
    ["Latency", `${meta.latencyMs} ms`, "latency"],
    ["Price", price(meta.micros), "price"],
    ["Billed images", meta.images ?? "—"],
    ["Request id", meta.requestId || "—"],
  ]);
  summary.classList.add("summary");
  ui.images.replaceChildren(summary, ...cards);
}

function metaList(rows) {
  const dl = document.createElement("dl");
  for (const [name, value, key] of rows) {
    const dt = Object.assign(document.createElement("dt"), { textContent: name });
    const dd = Object.assign(document.createElement("dd"), { textContent: value });
    if (key) dd.dataset.meta = key;
    if (key === "cache") dd.className = `cache cache-${String(value).toLowerCase()}`;
    dl.append(dt, dd);
  }
  return dl;
}

// ---- errors, as the envelope says; 429 and 503 count their Retry-After down
const ERROR_TITLES = {
  400: "The request is invalid",
  401: "Authentication failed: check the API key",
  403: "Not allowed for this key or plan",
  409: "A request with this idempotency key is still running",
  413: "The request is too large",
  429: "Rate limit reached",
  502: "The GPU backend rejected the request",
  503: "The service is busy or unavailable",
};

function showError(status, envelope, headers) {
  const error = envelope?.error ?? {};
  const title = ERROR_TITLES[status] ?? (status >= 500 ? "Server error" : "Request failed");
  ui.error.replaceChildren();
  const heading = Object.assign(document.createElement("p"), { className: "title" });
  heading.textContent = status ? `${status}: ${title}` : title;
  const message = Object.assign(document.createElement("p"), {
    className: "message",
    textContent: error.message ?? "No error details.",
  });
  const details = [
    ["type", error.type],
    ["code", error.code],
    ["param", error.param],
    ["request id", headers?.get("x-request-id")],
  ].filter(([, value]) => value);
  ui.error.append(heading, message, metaList(details.map(([k, v]) => [k, String(v)])));
  ui.error.hidden = false;
  const retryMs = retryAfterMs(headers);
  if (retryMs !== null && (status === 429 || status === 503)) countDown(retryMs);
}

function retryAfterMs(headers) {
  const ms = Number(headers?.get("retry-after-ms"));
  if (headers?.get("retry-after-ms") && Number.isFinite(ms)) return ms;
  const seconds = Number(headers?.get("retry-after"));
  return headers?.get("retry-after") && Number.isFinite(seconds) ? seconds * 1000 : null;
}

function countDown(ms) {
  const line = Object.assign(document.createElement("p"), { className: "retry" });
  line.dataset.retry = "";
  ui.error.append(line);
  const until = Date.now() + ms;
  retryUntil = until;
  ui.generate.disabled = true;
  ui.again.disabled = true;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left > 0) {
      line.textContent = `Retry in ${left} s`;
      return;
    }
    clearInterval(retryTimer);
    line.textContent = "You can retry now.";
    ui.generate.disabled = false;
    ui.again.disabled = lastBody === null;
  };
  clearInterval(retryTimer);
  tick();
  retryTimer = setInterval(tick, 250);
}

// ---- copy as code
function shellQuote(text) {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The request as code; an edit (`strength` set) sends `imageName` from the current folder. */
function snippets(body, imageName = "image.png") {
  return body.strength === undefined ? generationSnippets(body) : editSnippets(body, imageName);
}

const OPENAI_KEYS = ["prompt", "n", "size", "quality", "response_format", "output_format"];

/** Python: the OpenAI parameters as keywords, this API's extensions in `extra_body`. */
function pythonArgs(body) {
  const standard = OPENAI_KEYS.filter((k) => k in body).map((k) => `    ${k}=${JSON.stringify(body[k])},`);
  const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !OPENAI_KEYS.includes(k)));
  return [...standard, ...(Object.keys(extra).length ? [`    extra_body=${JSON.stringify(extra)},`] : [])];
}

function generationSnippets(body) {
  const base = `${location.origin}/v1`;
  return {
    curl: [
      `curl -s ${base}/images/generations \\`,
      '  -H "Authorization: Bearer $ZI_API_KEY" \\',
      '  -H "Content-Type: application/json" \\',
      `  -d ${shellQuote(JSON.stringify(body))}`,
    ].join("\n"),
    node: [
      'import OpenAI from "openai";',
      "",
      `const client = new OpenAI({ baseURL: ${JSON.stringify(base)}, apiKey: process.env.ZI_API_KEY });`,
      `const result = await client.images.generate(${JSON.stringify(body, null, 2)});`,
      "console.log(result.data);",
    ].join("\n"),
    python: pythonSnippet(base, "generate", [], body),
  };
}

/** openai-python: `client.images.<method>(...)` with `first` argument lines, then the body's. */
function pythonSnippet(base, method, first, body) {
  return [
    "import os",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${JSON.stringify(base)}, api_key=os.environ["ZI_API_KEY"])`,
    `result = client.images.${method}(`,
    ...first,
    ...pythonArgs(body),
    ")",
    "print(result.data)",
  ].join("\n");
}

function editSnippets(body, imageName) {
  const base = `${location.origin}/v1`;
  const type = `image/${imageName.toLowerCase().endsWith(".png") ? "png" : imageName.toLowerCase().endsWith(".webp") ? "webp" : "jpeg"}`;
  return {
    curl: [
      `curl -s ${base}/images/edits \\`,
      '  -H "Authorization: Bearer $ZI_API_KEY" \\',
      `  -F image=@${shellQuote(imageName)} \\`,
      // --form-string: a value starting with @ or < stays text (with -F curl would read a file).
      ...Object.entries(body).map(([k, v]) => `  --form-string ${shellQuote(`${k}=${v}`)} \\`),
    ]
      .join("\n")
      .replace(/ \\$/, ""),
    node: [
      'import fs from "node:fs";',
      'import OpenAI, { toFile } from "openai";',
      "",
      `const client = new OpenAI({ baseURL: ${JSON.stringify(base)}, apiKey: process.env.ZI_API_KEY });`,
      "const result = await client.images.edit({",
      `  image: await toFile(fs.readFileSync(${JSON.stringify(imageName)}), ${JSON.stringify(imageName)}, { type: ${JSON.stringify(type)} }),`,
      ...Object.entries(body).map(([k, v]) => `  ${k}: ${JSON.stringify(v)},`),
      "});",
      "console.log(result.data);",
    ].join("\n"),
    python: pythonSnippet(base, "edit", [`    image=open(${JSON.stringify(imageName)}, "rb"),`], body),
  };
}

function showCode(body) {
  ui.code.hidden = false;
  ui.codeText.textContent = snippets(body, lastImageName()).curl;
}

/** The file name the code snippets of the last request read its image from. */
function lastImageName() {
  return lastImage?.name ?? lastImageLabel ?? "image.png";
}

async function copy(kind) {
  if (!lastBody) return;
  const text = snippets(lastBody, lastImageName())[kind];
  ui.codeText.textContent = text;
  try {
    await navigator.clipboard.writeText(text);
    ui.status.textContent = `Copied as ${kind}.`;
  } catch {
    // No clipboard permission (e.g. plain http on another host): the text is shown, selected, to copy by hand.
    getSelection()?.selectAllChildren(ui.codeText);
    ui.status.textContent = "Select and copy the code shown below.";
  }
}

// ---- history (local storage; image URLs are content addresses, so reopening shows the same images)
function loadHistory() {
  try {
    return JSON.parse(localStorage.getItem(HISTORY_STORE) ?? "[]");
  } catch {
    return [];
  }
}

function addHistory(body, images, meta) {
  const entry = {
    at: Date.now(),
    body,
    // b64 images (streamed) are too big for local storage; "Same again" on a reopened entry fetches them.
    images: images.map((item) => ({ url: item.url ?? null, seed: item.seed ?? null })),
    meta,
    // An edit: the image's name only (the file itself is not kept).
    imageName: lastImage?.name ?? null,
  };
  const entries = [entry, ...loadHistory()].slice(0, HISTORY_MAX);
  localStorage.setItem(HISTORY_STORE, JSON.stringify(entries));
  renderHistory();
}

function renderHistory() {
  const entries = loadHistory();
  ui.history.replaceChildren(
    ...entries.map((entry, index) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.index = String(index);
      const thumb = entry.images.find((i) => i.url);
      if (thumb) {
        const img = Object.assign(new Image(), { src: thumb.url, alt: "", loading: "lazy" });
        img.width = 48;
        img.height = 48;
        button.append(img);
      }
      const text = document.createElement("span");
      const when = new Date(entry.at).toLocaleString();
      const kind = entry.imageName ? `edit of ${entry.imageName} · ` : "";
      const size = entry.meta.size ?? entry.body.size;
      text.textContent = `${kind}${entry.body.prompt.slice(0, 80)} · ${size} · ${entry.meta.cache || "?"} · ${when}`;
      button.append(text);
      button.addEventListener("click", () => reopen(entry));
      li.append(button);
      return li;
    }),
  );
}

function reopen(entry) {
  const isEdit = entry.imageName != null;
  // An edit reruns with the image chosen now only if it is the same file (by name); a generation drops it.
  if (!isEdit) chooseImage(null);
  fillForm(entry.body);
  lastBody = entry.body;
  lastImage = isEdit && initFile?.name === entry.imageName ? initFile : null;
  lastImageLabel = entry.imageName;
  ui.again.disabled = isEdit && lastImage === null;
  ui.error.hidden = true;
  const images = entry.images.filter((i) => i.url);
  showImages(entry.body, images, entry.meta);
  showCode(entry.body);
  const when = new Date(entry.at).toLocaleString();
  if (isEdit && lastImage === null) {
    ui.status.textContent = `Reopened from history (${when}); choose ${entry.imageName} again to rerun this edit.`;
  } else {
    ui.status.textContent = images.length
      ? `Reopened from history (${when}).`
      : "Reopened from history; use Same again to fetch its images (a cache hit).";
  }
}

// ---- generate (with `image`: an edit, multipart to /v1/images/edits)
async function generate(body, image = null) {
  if (busy) return;
  const key = fields.key.value.trim();
  localStorage.setItem(KEY_STORE, key);
  busy = true;
  lastBody = body;
  lastImage = image;
  lastImageLabel = image?.name ?? null;
  const endpoint = image ? EDITS_ENDPOINT : ENDPOINT;
  ui.generate.disabled = true;
  ui.again.disabled = true;
  ui.error.hidden = true;
  ui.previews.replaceChildren();
  showCode(body);
  const stop = startProgress(body);
  const started = performance.now();
  const post = (stream) => {
    const payload = stream ? { ...body, stream: true, partial_images: PARTIAL_IMAGES } : body;
    if (!image) {
      return fetch(endpoint, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(payload),
      });
    }
    // As the openai SDKs send an edit: the image as a file part, every field as a text part.
    const form = new FormData();
    form.append("image", image, image.name);
    for (const [name, value] of Object.entries(payload)) form.append(name, String(value));
    return fetch(endpoint, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: form });
  };
  try {
    let res = await post(streaming[endpoint]);
    if (streaming[endpoint] && res.status === 400) {
      const envelope = await res
        .clone()
        .json()
        .catch(() => null);
      if (envelope?.error?.param === "stream") {
        streaming[endpoint] = false;
        res = await post(false);
      }
    }
    if (!res.ok) {
      stop();
      ui.status.textContent = "";
      showError(res.status, await res.json().catch(() => null), res.headers);
      return;
    }
    const isStream = res.headers.get("content-type")?.startsWith("text/event-stream");
    const result = isStream
      ? await readEventStream(
          res,
          (e) => showPartial(e, body),
          (e) => showStep(e),
        )
      : await res.json();
    const meta = isStream ? streamedMeta(res, started, result.data) : readMeta(res, started);
    meta.size = result.size ?? result.data[0]?.size ?? body.size;
    stop();
    ui.status.textContent = `Done in ${meta.latencyMs} ms (${meta.cache || "no cache header"}).`;
    showImages(body, result.data, meta);
    addHistory(body, result.data, meta);
  } catch (error) {
    stop();
    ui.status.textContent = "";
    showError(
      error.status ?? 0,
      error.envelope ?? { error: { message: `Network error: ${error.message}` } },
      error.headers ?? null,
    );
  } finally {
    busy = false;
    if (Date.now() >= retryUntil) {
      ui.generate.disabled = false;
      ui.again.disabled = false;
    }
  }
}

// ---- wiring
initKey();
syncCustomSize();
renderHistory();
void detectStreaming();
fields.size.addEventListener("change", syncCustomSize);
$("dice").addEventListener("click", () => {
  fields.seed.value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
});
fields.init.addEventListener("change", () => chooseImage(fields.init.files?.[0]));
$("init-clear").addEventListener("click", () => chooseImage(null));
form.addEventListener("submit", (event) => {
  event.preventDefault();
  void generate(readBody(), initFile);
});
ui.again.addEventListener("click", () => {
  if (lastBody) void generate(lastBody, lastImage);
});
for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", () => void copy(button.dataset.copy));
}
$("history-clear").addEventListener("click", () => {
  localStorage.removeItem(HISTORY_STORE);
  renderHistory();
});
