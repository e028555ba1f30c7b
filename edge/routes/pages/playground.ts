/**
 * GET /playground: the form; public/assets/playground.js does the rest in the browser (requests, progress,
 * errors, history). With an image chosen, the same form makes an edit (POST /v1/images/edits, image-to-image). The API key never reaches this route: the page keeps it in the browser, and the local
 * stack hands its dev key over in the URL fragment (`/playground#key=...`), which browsers do not send.
 * @module
 */
import { html } from "hono/html";
import { page } from "./layout";

/** Presets: the model's common aspect ratios near one megapixel (sides multiples of 16), plus small sizes. */
export const SIZE_PRESETS = [
  ["1024x1024", "1:1"],
  ["1152x896", "9:7"],
  ["896x1152", "7:9"],
  ["1216x832", "3:2"],
  ["832x1216", "2:3"],
  ["1280x720", "16:9"],
  ["720x1280", "9:16"],
  ["512x512", "1:1 small"],
  ["256x256", "1:1 tiny"],
] as const;

/** A die (inline SVG: no emoji font needed, nothing to load). */
const DICE_ICON = html`<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
  <rect x="3" y="3" width="18" height="18" rx="4" fill="none" stroke="currentColor" stroke-width="2" />
  <circle cx="8" cy="8" r="1.6" fill="currentColor" /><circle cx="16" cy="8" r="1.6" fill="currentColor" />
  <circle cx="12" cy="12" r="1.6" fill="currentColor" /><circle cx="8" cy="16" r="1.6" fill="currentColor" />
  <circle cx="16" cy="16" r="1.6" fill="currentColor" />
</svg>`;

export function playgroundPage() {
  return page({
    title: "Playground · Z-Image API",
    current: "playground",
    styles: ["/assets/playground.css"],
    scripts: [{ src: "/assets/playground.js", module: true }],
    body: html`<h1>Playground</h1>
      <div class="pg">
        <form id="gen" class="panel" novalidate>
          <div class="field">
            <label for="key">API key</label>
            <div class="row">
              <input id="key" name="key" type="password" autocomplete="off" spellcheck="false"
                placeholder="zi_live_…" aria-describedby="key-help" required />
              <button type="button" id="key-toggle" aria-pressed="false" aria-controls="key">Show</button>
            </div>
            <p id="key-help" class="help">Kept in this browser only (local storage); sent only to this server.</p>
          </div>
          <div class="field">
            <label for="prompt">Prompt</label>
            <textarea id="prompt" name="prompt" rows="3" required maxlength="4000"></textarea>
          </div>
          <div class="field">
            <label for="negative_prompt">Negative prompt <span class="opt">(optional)</span></label>
            <textarea id="negative_prompt" name="negative_prompt" rows="2" maxlength="4000"></textarea>
          </div>
          <fieldset class="field">
            <legend>Start from an image <span class="opt">(optional: image-to-image)</span></legend>
            <input id="init_image" name="init_image" type="file" accept="image/png,image/jpeg,image/webp"
              aria-label="Image to start from" aria-describedby="init-help" />
            <div class="row" id="init-chosen" hidden>
              <img id="init-thumb" alt="The image to start from" width="64" height="64" />
              <button type="button" id="init-clear">Remove image</button>
            </div>
            <div class="row" id="strength-row" hidden>
              <label for="strength">Strength</label>
              <input id="strength" name="strength" type="number" min="0.05" max="1" step="0.05" value="0.6"
                aria-describedby="init-help" />
            </div>
            <p id="init-help" class="help">PNG, JPEG or WebP up to 10 MiB, kept in this browser until you
              generate. Strength 0.6 keeps the picture's layout and restyles it; 1 ignores its content.</p>
          </fieldset>
          <fieldset class="field">
            <legend>Size</legend>
            <select id="size" name="size" aria-label="Size preset">
              ${SIZE_PRESETS.map(([size, ratio]) => html`<option value="${size}">${size} (${ratio})</option>`)}
              <option value="custom">Custom…</option>
              <option value="auto" hidden>The image's size (auto)</option>
            </select>
            <div class="row" id="custom-size" hidden>
              <label for="width">W</label>
              <input id="width" name="width" type="number" min="64" max="2048" step="16" value="1024" />
              <label for="height">H</label>
              <input id="height" name="height" type="number" min="64" max="2048" step="16" value="1024" />
            </div>
          </fieldset>
          <div class="grid2">
            <div class="field">
              <label for="seed">Seed</label>
              <div class="row">
                <input id="seed" name="seed" type="number" min="0" step="1" inputmode="numeric"
                  placeholder="derived" aria-describedby="seed-help" />
                <button type="button" id="dice" title="Random seed" aria-label="Random seed">${DICE_ICON}</button>
              </div>
              <p id="seed-help" class="help">Empty: derived from the prompt (repeats hit the cache).</p>
            </div>
            <div class="field">
              <label for="n">Images (n)</label>
              <input id="n" name="n" type="number" min="1" max="10" step="1" value="1" />
            </div>
            <div class="field">
              <label for="quality">Quality</label>
              <select id="quality" name="quality" aria-describedby="quality-help">
                <option value="auto">auto (8 steps)</option>
                <option value="low">low (4 steps)</option>
                <option value="high">high (8 steps)</option>
              </select>
            </div>
            <div class="field">
              <label for="steps">Steps</label>
              <input id="steps" name="steps" type="number" min="1" max="50" step="1" placeholder="from quality"
                aria-describedby="quality-help" />
            </div>
            <p id="quality-help" class="help span2">Steps, when set, win over quality.</p>
            <div class="field">
              <label for="guidance_scale">Guidance</label>
              <input id="guidance_scale" name="guidance_scale" type="number" min="0" max="20" step="0.5" value="0" />
            </div>
            <div class="field">
              <label for="output_format">Format</label>
              <select id="output_format" name="output_format">
                <option value="png">PNG</option>
                <option value="jpeg">JPEG</option>
                <option value="webp">WebP</option>
              </select>
            </div>
          </div>
          <div class="actions">
            <button type="submit" id="generate" class="primary">Generate</button>
            <button type="button" id="again" disabled>Same again</button>
          </div>
        </form>
        <section class="panel out" aria-labelledby="out-title">
          <h2 id="out-title" class="sr-only">Result</h2>
          <div id="status" role="status" aria-live="polite"></div>
          <progress id="progress" hidden></progress>
          <div id="error" role="alert" hidden></div>
          <div id="previews" class="images" aria-label="Previews"></div>
          <div id="images" class="images"></div>
          <div id="code" class="code" hidden>
            <div class="row">
              <button type="button" data-copy="curl">Copy as curl</button>
              <button type="button" data-copy="node">Copy as openai (Node)</button>
              <button type="button" data-copy="python">Copy as openai (Python)</button>
            </div>
            <details>
              <summary>Show the code</summary>
              <pre><code id="code-text"></code></pre>
            </details>
          </div>
        </section>
      </div>
      <section class="panel" aria-labelledby="history-title">
        <div class="row spread">
          <h2 id="history-title">History <span class="opt">(this browser)</span></h2>
          <button type="button" id="history-clear">Clear</button>
        </div>
        <ol id="history" class="history"></ol>
      </section>`,
  });
}
