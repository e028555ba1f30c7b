/**
 * GET /docs: a getting-started block (base URL, key, curl and openai SDK snippets) above Swagger UI, which
 * renders the live `/openapi.json`. @hono/swagger-ui writes the Swagger UI markup; its asset base points at
 * the copy of swagger-ui-dist this Worker serves (public/assets/vendor/, see infra/build/vendor-assets.mjs).
 * @module
 */
import { SwaggerUI } from "@hono/swagger-ui";
import { html, raw } from "hono/html";
import { page } from "./layout";

/** Asset base for @hono/swagger-ui (it appends `/swagger-ui-dist/swagger-ui{.css,-bundle.js}`): this Worker. */
const SWAGGER_ASSET_BASE = "/assets/vendor";

// Only the asset tags: the initializer lives in docs.js, because the pages' CSP allows no inline script.
const swaggerAssets = SwaggerUI({
  baseUrl: SWAGGER_ASSET_BASE,
  url: "/openapi.json",
  manuallySwaggerUIHtml: (asset) =>
    [
      ...asset.css.map((href) => `<link rel="stylesheet" href="${href}" />`),
      ...asset.js.map((src) => `<script defer src="${src}"></script>`),
    ].join("\n"),
});

/** Guides in docs/ (the build step serves them as text under /guides/; see infra/build/vendor-assets.mjs). */
const GUIDES = [
  ["api", "API guide: parameters, errors, caching, seeds, keys, limits, billing, idempotency"],
  ["openai-compatibility", "OpenAI compatibility: every OpenAI parameter and header as this API honours it"],
  ["configuration", "Configuration: vars, bindings, secrets"],
  ["architecture", "Architecture: the request path, the edge -> GPU protocol"],
  ["operations", "Operations: local stack, tests, deploy"],
] as const;

export function docsPage() {
  return page({
    title: "API reference · Z-Image API",
    current: "docs",
    scripts: [{ src: "/assets/docs.js" }],
    body: html`${raw(swaggerAssets)}
      <h1>API reference</h1>
      <section class="start" aria-labelledby="start-title">
        <h2 id="start-title">Getting started</h2>
        <p>
          Base URL <code data-origin>/v1</code>. Send your API key as <code>Authorization: Bearer zi_live_…</code>;
          in "Try it out" below, paste it under <em>Authorize</em> (it stays in this browser tab). Any OpenAI client
          works with the base URL and key changed.
        </p>
        <div class="snippets">
          <figure>
            <figcaption>curl</figcaption>
            <pre><code data-snippet="curl"></code></pre>
          </figure>
          <figure>
            <figcaption>Node (openai)</figcaption>
            <pre><code data-snippet="node"></code></pre>
          </figure>
          <figure>
            <figcaption>Python (openai)</figcaption>
            <pre><code data-snippet="python"></code></pre>
          </figure>
        </div>
        <details>
          <summary>Guides</summary>
          <ul>
            ${GUIDES.map(([name, label]) => html`<li><a href="/guides/${name}.md">${label}</a></li>`)}
          </ul>
        </details>
      </section>
      <div id="swagger-ui" aria-label="Operations"></div>`,
  });
}
