/**
 * Opens a report page in headless Chromium from the system's packages (Debian's `chromium`),
 * driven by puppeteer-core: nothing downloads a browser. scripts/ensure-chromium.sh installs it.
 */
import { execFileSync } from 'node:child_process';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** QP_CHROMIUM, else `chromium` (or `chromium-browser`) on PATH. */
export function chromiumPath(): string {
  if (process.env.QP_CHROMIUM) return process.env.QP_CHROMIUM;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch {
      // next name
    }
  }
  throw new Error(
    'no Chromium found: install the Debian package `chromium` (bash scripts/ensure-chromium.sh) or set QP_CHROMIUM',
  );
}

export interface OpenedReport {
  readonly browser: Browser;
  readonly page: Page;
  /** Console messages of type error, page errors and failed requests, in order. */
  readonly problems: string[];
  /** URLs the page asked for besides itself: a self-contained page asks for none. */
  readonly requests: string[];
}

/** The page loaded from `html` (as a file or a presigned link would show it), watching the console. */
export async function openReport(html: string): Promise<OpenedReport> {
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in a container has no user namespace for the sandbox; the page is our own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${(error as Error).message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('request', (request) => {
    if (!request.url().startsWith('about:') && !request.url().startsWith('data:')) requests.push(request.url());
  });
  await page.setViewport({ width: 1100, height: 900 });
  await page.setContent(html, { waitUntil: 'load' });
  return { browser, page, problems, requests };
}

/** Data points per chart (`data-chart` id -> number of `.point` elements), as the browser sees them. */
export async function pointsPerChart(page: Page): Promise<Record<string, number>> {
  return page.$$eval('svg.chart', (charts) =>
    Object.fromEntries(charts.map((c) => [c.getAttribute('data-chart') ?? '', c.querySelectorAll('.point').length])),
  );
}
