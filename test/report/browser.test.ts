/**
 * The report pages in a real browser (Debian's Chromium through puppeteer-core): the charts have
 * their points, the tables their rows, nothing is fetched, nothing runs, the console stays clean.
 * The page of a real local run is checked in test/e2e/feature-pipeline.e2e.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { render } from '../../lambdas/report/render';
import { type OpenedReport, openReport, pointsPerChart } from './browser';
import { BATCH_VIEW, HOSTILE_KEY, RUN_VIEW } from './fixtures';

let opened: OpenedReport | undefined;
afterEach(async () => {
  await opened?.browser.close();
  opened = undefined;
});

describe('run report in Chromium', () => {
  it('shows a file name holding <script> as text and runs nothing', async () => {
    // Act
    opened = await openReport(render(RUN_VIEW));
    const { page } = opened;

    // Assess
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.$$('script')).toHaveLength(0);
    const files = await page.$$eval('#quarantine tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(files).toEqual([
      [HOSTILE_KEY, 'not JSON: <b>unexpected</b> token'],
      ['experiments/experiment.vqe/000002-1.json', 'missing field vqe_result'],
    ]);
    expect(opened.problems).toEqual([]);
    expect(opened.requests).toEqual([]);
  }, 60_000);

  it('draws every chart of the run and batch pages with its data points', async () => {
    // Act
    opened = await openReport(render(RUN_VIEW));
    const run = await pointsPerChart(opened.page);
    const verdict = await opened.page.$eval('#verdict', (e) => e.textContent);
    await opened.page.setContent(render(BATCH_VIEW), { waitUntil: 'load' });
    const batch = await pointsPerChart(opened.page);

    // Assess
    expect(run).toEqual({ 'history-duration': 3, 'history-rows': 3, 'convergence-0': 7, 'energy-error': 2 });
    expect(verdict).toBe('Ingested 3 of 5 new file(s); 2 quarantined.');
    expect(batch).toMatchObject({ 'lane-progress': 2, 'run-durations': 2, 'convergence-0': 7, 'energy-error': 2 });
    expect(opened.problems).toEqual([]);
  }, 60_000);
});
