// Headless Chromium (Debian's `chromium` package, driven by playwright-core) for the console's tests. It runs in
// the tests' loopback-only network namespace like everything else; `mirror.test` resolves to 127.0.0.1 so a test
// can open the console under a name that is not a secure context, as http://mirror.example:5000 is.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { buildConsole } from "../../web/build.js";
import type { Range } from "../../web/src/api.js";
import type { FakeHub } from "../fakes/fake-hub.js";
import { useHubAndMirror } from "../fakes/mirror.js";
import { NOW, statsFixture } from "./stats-fixture.js";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const MIRROR_NAME = "mirror.test";
const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";

/** Where screenshots go: $TEST_ARTIFACTS_DIR, or test-artifacts/ of the repository (gitignored). */
export const ARTIFACTS = join(process.env.TEST_ARTIFACTS_DIR ?? "test-artifacts", "console");

/** A browser for the suite: launched before its tests, closed after them. */
export function useBrowser(): { browser: Browser } {
  const env = {} as { browser: Browser };
  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    env.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in a container: Chromium's sandbox needs user namespaces it can't have here.
      args: ["--no-sandbox", `--host-resolver-rules=MAP ${MIRROR_NAME} 127.0.0.1`],
    });
  });
  after(() => env.browser?.close());
  return env;
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors (with the URL they name), uncaught exceptions and Content-Security-Policy violations. */
  problems: string[];
}

/** A fresh context (en-US, UTC, 1280×900) whose page reports every error and CSP violation. */
export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({
    locale: "en-US",
    timezoneId: "UTC",
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() !== "error" && m.type() !== "warning") return;
    // The URL says which load failed: Chromium's "Failed to load resource" text does not.
    const at = m.location().url;
    problems.push(`console ${m.type()}: ${m.text()}${at ? ` (${at})` : ""}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Chromium logs violations to the console too; the event also names the directive, for a clear failure.
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });
  return { context, page, problems };
}

/** Puts `library/app:latest` (an empty config, no layers) on the hub: the image these suites pull. */
export function addAppImage(hub: FakeHub): void {
  hub.addManifest(
    "library/app",
    { schemaVersion: 2, mediaType: DOCKER, config: { digest: hub.addBlob(Buffer.from("{}")), size: 2 } },
    DOCKER,
    "latest",
  );
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

export type StatsAnswer = (range: string) => { status: number; body: unknown };
export const FIXTURE: StatsAnswer = (range) => ({ status: 200, body: statsFixture(range as Range) });

export interface StatsStub {
  /** The `range` of each request, in order. */
  ranges: string[];
  /** What the next requests get; a test may swap it. */
  answer: StatsAnswer;
}

/** Answers the page's /api/stats requests from `answer`, in the browser: the product serves no fixture. */
export async function stubStats(page: Page, answer: StatsAnswer = FIXTURE): Promise<StatsStub> {
  const stub: StatsStub = { ranges: [], answer };
  await page.route(
    (url) => url.pathname === "/api/stats",
    (route) => {
      const range = new URL(route.request().url()).searchParams.get("range") ?? "";
      stub.ranges.push(range);
      const { status, body } = stub.answer(range);
      return route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
    },
  );
  return stub;
}

export interface ConsoleSession extends WatchedPage {
  stub: StatsStub;
}

/**
 * For a suite: the console freshly built into dist/web (what `npm run build` does), an in-process mirror serving
 * it, and Chromium. `open` loads a page of it with the clock at the fixture's NOW and /api/stats stubbed;
 * `close` ends the page and fails the test on any console error, page error or CSP violation it saw.
 */
export function useConsole() {
  const env = useHubAndMirror();
  const chrome = useBrowser();
  before(() => buildConsole());
  return {
    url: () => env.mirror.url,
    browser: () => chrome.browser,
    async open(hash = "#/", answer?: StatsAnswer): Promise<ConsoleSession> {
      const w = await watchedPage(chrome.browser);
      await w.page.clock.install({ time: NOW });
      const stub = await stubStats(w.page, answer);
      await w.page.goto(`${env.mirror.url}/${hash}`);
      return { ...w, stub };
    },
    async close(w: WatchedPage): Promise<void> {
      await w.context.close();
      assert.deepEqual(w.problems, [], "no console errors, page errors or CSP violations");
    },
  };
}
