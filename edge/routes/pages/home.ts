/**
 * GET /: what this is, with links to the playground, the API reference and the OpenAPI document.
 * @module
 */
import { html } from "hono/html";
import { page } from "./layout";

export function homePage() {
  return page({
    title: "Z-Image API",
    current: "home",
    body: html`<h1>Z-Image API</h1>
      <p class="lead">
        Pay-per-image text-to-image generation with Z-Image-Turbo, compatible with OpenAI's
        <code>POST /v1/images/generations</code>. Identical requests are answered from the cache.
      </p>
      <ul class="cards">
        <li>
          <a href="/playground"><strong>Playground</strong></a>
          <span>Generate images in the browser with your API key; copy the request as curl or openai SDK code.</span>
        </li>
        <li>
          <a href="/docs"><strong>API reference</strong></a>
          <span>Every operation, its parameters and answers, with "Try it out" against this server.</span>
        </li>
        <li>
          <a href="/openapi.json"><strong>OpenAPI document</strong></a>
          <span>OpenAPI 3.1, generated from the schemas that validate requests.</span>
        </li>
      </ul>`,
  });
}
