/**
 * Page weight and time to interactive of `/`, `/playground` and `/docs` in Debian's chromium, against the real
 * local stack (`wrangler dev`). Weight: bytes of HTML, JS and CSS the page loads (as served, and gzip -6 as a
 * stand-in for the compression Cloudflare applies to text). Time to interactive: navigation start to
 *   - `/`: DOMContentLoaded (no script);
 *   - `/playground`: the module script has wired the form (DOMContentLoaded; module scripts run before it);
 *   - `/docs`: Swagger UI has rendered the first operation of the live /openapi.json.
 * Cold = a fresh browser context (empty cache); warm = the same context loading again (cached assets).
 *
 *   npx tsx test/bench/pages.ts [--runs 7]
 */
import { gzipSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../browser/browser";
import { startE2EStack } from "../e2e/fixture";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 7;

interface Weight {
  files: number;
  bytes: number;
  gzip: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function interactiveAt(page: Page, path: string): Promise<number> {
  if (path === "/docs") {
    await page.locator(".opblock").first().waitFor();
    return page.evaluate(() => performance.now());
  }
  await page.waitForFunction(
    () => performance.getEntriesByType("navigation")[0]?.toJSON().domContentLoadedEventEnd > 0,
  );
  return page.evaluate(
    () =>
      (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).domContentLoadedEventEnd,
  );
}

async function measure(browser: Browser, origin: string, path: string) {
  const cold: number[] = [];
  const warm: number[] = [];
  let weight: Weight = { files: 0, bytes: 0, gzip: 0 };
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const bodies: Promise<Buffer | null>[] = [];
    page.on("response", (res) => {
      const type = res.headers()["content-type"] ?? "";
      if (/text\/html|javascript|text\/css/.test(type)) bodies.push(res.body().catch(() => null));
    });
    await page.goto(`${origin}${path}`);
    cold.push(await interactiveAt(page, path));
    const loaded = (await Promise.all(bodies)).filter((b): b is Buffer => b !== null);
    weight = {
      files: loaded.length,
      bytes: loaded.reduce((sum, b) => sum + b.length, 0),
      gzip: loaded.reduce((sum, b) => sum + gzipSync(b, { level: 6 }).length, 0),
    };
    await page.goto(`${origin}${path}`);
    warm.push(await interactiveAt(page, path));
    await context.close();
  }
  return { path, weight, cold: median(cold), warm: median(warm) };
}

const stack = await startE2EStack();
const browser = await launchChromium();
try {
  console.log(`| page | files | HTML+JS+CSS bytes | gzip bytes | interactive, cold (ms) | warm (ms) |`);
  console.log(`| ---- | ----- | ----------------- | ---------- | ---------------------- | --------- |`);
  for (const path of ["/", "/playground", "/docs"]) {
    const r = await measure(browser, stack.urls.edge, path);
    console.log(
      `| \`${r.path}\` | ${r.weight.files} | ${r.weight.bytes} | ${r.weight.gzip} | ${r.cold.toFixed(0)} | ${r.warm.toFixed(0)} |`,
    );
  }
  console.log(`(median of ${runs} loads each; chromium ${browser.version()})`);
} finally {
  await browser.close();
  await stack.stop();
}
