/**
 * The HTML pages in the production composition (accounts extension installed): they need no API key, carry
 * a strict CSP, load scripts and styles only from this origin's static assets, contain no key, and are the same
 * bytes whatever Host the request names. The browser tests (test/browser) check what they do.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call } from "./accounts/support";
import { ORIGIN } from "./support/api";

const PAGES = ["/", "/docs", "/playground"];

function assetUrls(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
}

describe("pages", () => {
  it.each(PAGES)(
    "%s is HTML without an API key, with a strict CSP and same-origin assets only",
    async (path) => {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      const html = await res.text();
      // No inline script: every <script> has a src (the CSP would block inline ones anyway).
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      const urls = assetUrls(html);
      expect(urls.length).toBeGreaterThan(0);
      for (const url of urls) expect(url).toMatch(/^\/assets\//);
      expect(html).not.toMatch(/zi_(live|test)_[A-Za-z0-9]{8}/);
    },
  );

  it("/docs points Swagger UI at the self-hosted swagger-ui-dist and names every guide", async () => {
    const html = await (await call("/docs")).text();
    expect(assetUrls(html)).toEqual(
      expect.arrayContaining([
        "/assets/vendor/swagger-ui-dist/swagger-ui.css",
        "/assets/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        "/assets/docs.js",
      ]),
    );
    expect(html).toContain('href="/guides/api.md"');
  });

  it("does not build anything from the Host header", async () => {
    const a = await (await SELF.fetch(`${ORIGIN}/playground`)).text();
    const b = await (await SELF.fetch("https://evil.example/playground")).text();
    expect(b).toBe(a);
    expect(a).not.toContain("evil.example");
  });

  it("documents bearer auth in /openapi.json, so /docs can send a pasted key", async () => {
    type Security = { [scheme: string]: string[] }[];
    const doc = (await (await SELF.fetch(`${ORIGIN}/openapi.json`)).json()) as {
      security?: Security;
      paths: Record<string, Record<string, { security?: Security }>>;
      components: { securitySchemes?: Record<string, { type: string; scheme?: string }> };
    };
    expect(doc.components.securitySchemes?.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    // Per operation or document-wide: the generations operation takes the API key.
    const security = doc.paths["/v1/images/generations"]?.post?.security ?? doc.security;
    expect(security).toEqual([{ apiKey: [] }]);
  });
});
