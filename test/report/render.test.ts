/** The run report's pages: verdicts, tables, charts with their points, and escaping. */
import { describe, expect, it } from 'vitest';
import { RunSummary } from '../../lambdas/feature-pipeline/contract';
import { ReportData } from '../../lambdas/report/contract';
import { pipelineRunView } from '../../lambdas/report/load';
import { render } from '../../lambdas/report/render';
import { BATCH_VIEW, REPORT_DATA, RUN_VIEW } from './fixtures';

const count = (html: string, pattern: RegExp) => (html.match(pattern) ?? []).length;

describe('pipeline run page', () => {
  it('shows a hostile file name as text: no script element, the name escaped', () => {
    // Act
    const html = render(RUN_VIEW);

    // Assess
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;window.pwned=1&lt;/script&gt;');
    expect(html).toContain('not JSON: &lt;b&gt;unexpected&lt;/b&gt; token');
  });

  it('says in one line whether everything was ingested, and lists each quarantined file with its reason', () => {
    // Act
    const html = render(RUN_VIEW);
    const clean = render({
      ...RUN_VIEW,
      files: { ...RUN_VIEW.files!, quarantined: 0, ingested: 5, quarantinedFiles: [] },
    });

    // Assess
    expect(html).toMatch(/id="verdict"[^>]*>Ingested 3 of 5 new file\(s\); 2 quarantined\./);
    expect(count(html.slice(html.indexOf('id="quarantine"')), /<tr><td class="key">/g)).toBe(2);
    expect(clean).toMatch(/class="verdict ok"[^>]*>Ingested everything: all 5 new file\(s\)\./);
  });

  it('draws every data point: convergence samples, history and energy-error bars', () => {
    // Act
    const html = render(RUN_VIEW);

    // Assess: 3 + 2 + 2 convergence points, 2 bars, history: 3 durations + 3 row counts
    const chart = (id: string) =>
      html.slice(html.indexOf(`data-chart="${id}"`), html.indexOf('</svg>', html.indexOf(`data-chart="${id}"`)));
    expect(count(chart('convergence-0'), /class="point"/g)).toBe(7);
    expect(count(chart('energy-error'), /class="point"/g)).toBe(2);
    expect(count(chart('history-duration'), /class="point"/g)).toBe(3);
    expect(count(chart('history-rows'), /class="point"/g)).toBe(3);
    expect(html).toContain('chemical accuracy, 1.6 mHa');
    expect(html).toMatch(/reaches chemical accuracy/);
    expect(html).toMatch(/does not reach it/);
  });

  it('labels the error honestly when no exact reference is known', () => {
    // Prepare
    const groups = RUN_VIEW.physics!.energyError.map((g) => ({ ...g, reference_kind: 'best_seen' as const }));

    // Act
    const html = render({ ...RUN_VIEW, physics: { ...RUN_VIEW.physics!, energyError: groups } });

    // Assess
    expect(html).toMatch(/No group\(s\) have an exact reference/);
    expect(html).toMatch(/lowest energy this run reached/);
  });

  it('shows the failure of a failed run first, and a page without job 2 still renders', () => {
    // Act
    const html = render({
      ...RUN_VIEW,
      failure: { error: 'SparkJobFailedError', cause: 'driver <exited> 1' },
      physics: null,
      history: [],
    });

    // Assess
    expect(html).toMatch(/class="verdict bad"[^>]*>The run failed: SparkJobFailedError\./);
    expect(html).toContain('driver &lt;exited&gt; 1');
    expect(html).toContain('No history');
  });
});

describe('pipeline run view from the summaries and the report data', () => {
  it('joins durations to the history by batch id and marks the current run', () => {
    // Prepare
    const data = ReportData.parse(REPORT_DATA);

    // Act
    const view = pipelineRunView({
      runId: 'run-1',
      now: '2026-12-02T02:06:00.000Z',
      data,
      durations: new Map([['b-1', 31.5]]),
      features: RunSummary.parse({
        job: 'feature_processing',
        run_id: 'run-1',
        batch_id: 'b-1',
        status: 'succeeded',
        started_at: '',
        finished_at: '',
        duration_seconds: 31.5,
        resumed_batch: false,
        new_rows: { molecules: 3 },
        tags: {},
        files: { listed: 5, in_batch: 5, ingested: 3, quarantined: 2 },
        quarantined: [{ key: 'k', etag: 'e', reason: 'r' }],
        quarantined_total: 2,
        details: { duplicate_experiments: 0 },
      }),
    });

    // Assess
    expect(view.history.map((h) => [h.job, h.durationSeconds, h.current])).toEqual([
      ['job 1 (features)', null, false],
      ['job 2 (ML features)', null, false],
      ['job 1 (features)', 31.5, true],
      ['job 2 (ML features)', null, false],
    ]);
    expect(view.files).toMatchObject({ listed: 5, ingested: 3, quarantined: 2, duplicateExperiments: 0 });
    expect(view.jobs[1]).toMatchObject({ status: 'skipped', durationSeconds: null });
    expect(view.physics?.convergence).toHaveLength(2);
  });
});

describe('batch page', () => {
  it('shows progress per lane, run durations and the physics', () => {
    // Act
    const html = render(BATCH_VIEW);

    // Assess
    expect(html).toMatch(/id="verdict"[^>]*>Finished: 3 of 4 run\(s\) done, 1 failed or timed out\./);
    expect(html).toContain('data-chart="lane-progress"');
    // What arrived in raw-results: per lane (the table's last column) and in all (a figure on top).
    expect(html).toMatch(/<th scope="row">cpu<\/th>(<td class="n">[^<]*<\/td>){8}<td class="n">6<\/td><\/tr>/);
    expect(html).toContain('<div class="kpi"><b>6</b>records delivered</div>');
    expect(count(html.slice(html.indexOf('data-chart="run-durations"')), /class="point"/g)).toBeGreaterThanOrEqual(2);
    expect(html).toContain('data-chart="energy-error"');
  });

  it('says when no pipeline run has processed the batch yet', () => {
    const html = render({ ...BATCH_VIEW, physics: null, finished: false });

    expect(html).toMatch(/class="verdict warn"[^>]*>Running:/);
    expect(html).toContain('No feature pipeline run has processed this batch yet');
  });

  it("leads with the batch execution's failure, escaped, when written on the failure path", () => {
    // Act
    const html = render({
      ...BATCH_VIEW,
      finished: false,
      failure: { error: 'States.TaskFailed', cause: 'summary <script>alert(1)</script> unreadable' },
    });

    // Assess
    expect(html).toMatch(/class="verdict bad"[^>]*>The batch failed: States\.TaskFailed\. 3 of 4 run\(s\) done/);
    expect(html).toContain('<section id="failure">');
    expect(html).toContain('summary &lt;script&gt;alert(1)&lt;/script&gt; unreadable');
    expect(html.indexOf('id="failure"')).toBeLessThan(html.indexOf('id="lanes"'));
  });
});
