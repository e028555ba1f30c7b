// /docs: fills the getting-started snippets with this origin and starts Swagger UI on the live /openapi.json.
// Swagger UI comes from /assets/vendor/swagger-ui-dist/ (copied from node_modules at build time, no CDN).

function fillSnippets() {
  const base = `${location.origin}/v1`;
  const snippets = {
    curl: [
      `curl -s ${base}/images/generations \\`,
      '  -H "Authorization: Bearer $ZI_API_KEY" -H "Content-Type: application/json" \\',
      `  -d '{"prompt":"a lighthouse at dawn, watercolor","size":"1024x1024","seed":7}'`,
    ],
    node: [
      'import OpenAI from "openai";',
      `const client = new OpenAI({ baseURL: "${base}", apiKey: process.env.ZI_API_KEY });`,
      'const image = await client.images.generate({ prompt: "a lighthouse at dawn", size: "1024x1024" });',
      "console.log(image.data[0].url);",
    ],
    python: [
      "import os",
      "from openai import OpenAI",
      `client = OpenAI(base_url="${base}", api_key=os.environ["ZI_API_KEY"])`,
      'image = client.images.generate(prompt="a lighthouse at dawn", size="1024x1024", extra_body={"seed": 7})',
      "print(image.data[0].url)",
    ],
  };
  for (const el of document.querySelectorAll("[data-snippet]")) {
    el.textContent = snippets[el.dataset.snippet].join("\n");
  }
  for (const el of document.querySelectorAll("[data-origin]")) el.textContent = base;
}

const TAG_ORDER = ["Images", "API"];

function tagRank(tag) {
  if (tag === "Admin") return TAG_ORDER.length + 1;
  const i = TAG_ORDER.indexOf(tag);
  return i < 0 ? TAG_ORDER.length : i;
}

function startSwaggerUi() {
  const { SwaggerUIBundle } = window; // set by swagger-ui-bundle.js
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    // BaseLayout: no top bar with a URL field (the page documents this server only).
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    // What an app developer needs first: the images operations, then the rest, the admin API last.
    tagsSorter: (a, b) => tagRank(a) - tagRank(b) || a.localeCompare(b),
    displayRequestDuration: true,
    // No call to validator.swagger.io: the page works offline.
    validatorUrl: null,
  });
}

// Deferred scripts (this one and swagger-ui-bundle.js) have all run by DOMContentLoaded.
document.addEventListener("DOMContentLoaded", () => {
  fillSnippets();
  startSwaggerUi();
});
