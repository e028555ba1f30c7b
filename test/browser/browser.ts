/**
 * Debian's chromium driven by playwright-core (no browser download), for the page tests and the page bench.
 * Screenshots go to test-results/browser/ (git-ignored; CI keeps them as artifacts); with
 * UPDATE_DOCS_SCREENSHOTS=1 the ones named for docs/ are written there too (the README shows them).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { REPO_ROOT } from "../../infra/dev/start-stack";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOT_DIR = join(REPO_ROOT, "test-results", "browser");

export function launchChromium(): Promise<Browser> {
  // Root (containers, CI) cannot use chromium's sandbox.
  const args = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/**
 * Saves a full-page screenshot under test-results/browser/, and as docs/<docsName> when asked to: one viewport,
 * from the top of the page or from the element `docsFrom` names.
 */
export async function screenshot(
  page: Page,
  name: string,
  docsName?: string,
  docsFrom?: string,
): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  if (docsName && process.env.UPDATE_DOCS_SCREENSHOTS === "1") {
    if (docsFrom)
      await page
        .locator(docsFrom)
        .first()
        .evaluate((el) => el.scrollIntoView());
    else await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(REPO_ROOT, "docs", docsName), fullPage: false });
  }
}

/** True when the page can be scrolled sideways (content wider than the viewport). */
export function hasHorizontalScroll(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}
