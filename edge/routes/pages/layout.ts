/**
 * The HTML shell shared by `/`, `/docs` and `/playground`: one stylesheet, page-specific scripts (all served
 * as static assets from public/assets/, never from a CDN) and a strict Content-Security-Policy.
 *
 * Nothing here is built from the request (no Host header, no query): the pages are the same bytes for every
 * caller, and the scripts read `location.origin` in the browser where they need the base URL.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { html } from "hono/html";
import { secureHeaders } from "hono/secure-headers";
import type { HtmlEscapedString } from "hono/utils/html";
import type { AppEnv } from "../../types";

export interface PageOptions {
  title: string;
  /** Which nav entry is the current page. */
  current: "home" | "docs" | "playground";
  /** Extra stylesheets (absolute paths of static assets). */
  styles?: string[];
  /** Scripts, loaded as deferred classic scripts or modules. */
  scripts?: { src: string; module?: boolean }[];
  body: HtmlEscapedString | Promise<HtmlEscapedString>;
}

const NAV = [
  { id: "home", href: "/", label: "Home" },
  { id: "playground", href: "/playground", label: "Playground" },
  { id: "docs", href: "/docs", label: "API reference" },
] as const;

export function page(options: PageOptions): HtmlEscapedString | Promise<HtmlEscapedString> {
  const nav = NAV.map(
    (item) =>
      html`<a href="${item.href}"${item.id === options.current ? html` aria-current="page"` : ""}>${item.label}</a>`,
  );
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${options.title}</title>
    <link rel="stylesheet" href="/assets/pages.css" />
    ${(options.styles ?? []).map((href) => html`<link rel="stylesheet" href="${href}" />`)}
    ${(options.scripts ?? []).map((s) =>
      s.module
        ? html`<script type="module" src="${s.src}"></script>`
        : html`<script defer src="${s.src}"></script>`,
    )}
  </head>
  <body>
    <a class="skip" href="#main">Skip to content</a>
    <header class="site">
      <a class="brand" href="/">Z-Image API</a>
      <nav aria-label="Site">${nav}</nav>
    </header>
    <main id="main">${options.body}</main>
  </body>
</html>`;
}

/**
 * Security headers for the HTML pages. Scripts only from this origin (no inline script: the playground and
 * the Swagger UI initializer are files). Swagger UI sets inline styles, hence 'unsafe-inline' for styles only.
 * Images may come from anywhere, because image URLs use PUBLIC_BASE_URL, which may be another host.
 */
export function pageHeaders(): MiddlewareHandler<AppEnv> {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["*", "data:", "blob:"],
      connectSrc: ["'self'"],
      fontSrc: ["'self'", "data:"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
    crossOriginEmbedderPolicy: false,
  });
}
