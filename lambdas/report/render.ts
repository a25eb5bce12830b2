/**
 * The run report: one self-contained HTML page from a view model, nothing else. Inline styles
 * and SVG only (no script, font or stylesheet from elsewhere), so it reads the same offline, from
 * a presigned S3 link, or attached to a ticket. Every value from data is escaped (html.ts).
 */
import { legend, lineChart, stackedBars } from './charts';
import type { BatchView, PipelineRunView, ReportView } from './contract';
import { esc, fmtInt, fmtSeconds, PALETTE, STATUS_COLOURS } from './html';
import { physicsSections } from './physics';

const STYLE = `
:root{color-scheme:light}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.2em;margin:0 0 12px;border-bottom:1px solid #e4e7eb;padding-bottom:4px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:16px 20px;margin:16px 0}
.verdict{font-size:1.1em;font-weight:600;padding:12px 16px;border-radius:8px;border-left:6px solid}
.verdict.ok{background:#e3f9f0;border-color:${STATUS_COLOURS.ok}}.verdict.bad{background:#fde8e1;border-color:${STATUS_COLOURS.bad}}
.verdict.warn{background:#fff4de;border-color:${STATUS_COLOURS.warn}}
.muted{color:#616e7c}.note{background:#fff8e6;padding:8px 12px;border-radius:6px}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:.92em}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#f0f4f8}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.key{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}
.kpi{flex:1;min-width:120px;background:#f0f4f8;border-radius:6px;padding:8px 12px}
.kpi b{display:block;font-size:1.4em}
figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:0 16px}
svg.chart{background:#fff;max-width:100%;height:auto}
svg .grid{stroke:#e4e7eb}svg .tick,svg .axis{font-size:11px;fill:#52606d}svg .axis{font-size:12px}
svg .ref{stroke:#D55E00;stroke-width:1.5;stroke-dasharray:5 3}
.legend span{margin-right:14px;white-space:nowrap}.legend i,.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
footer{color:#616e7c;font-size:.85em;margin:24px 0}
`;

function page(
  title: string,
  verdict: { text: string; tone: 'ok' | 'bad' | 'warn' },
  body: string,
  generatedAt: string,
) {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${esc(title)}</title><style>${STYLE}</style></head><body><main>` +
    `<h1>${esc(title)}</h1><p class="verdict ${verdict.tone}" id="verdict" role="status">${esc(verdict.text)}</p>` +
    `${body}<footer>Generated ${esc(generatedAt)} by the quantum pipeline's run report.</footer></main></body></html>`
  );
}

function kpis(items: readonly [string, string][]): string {
  return `<div class="kpis">${items.map(([label, value]) => `<div class="kpi"><b>${esc(value)}</b>${esc(label)}</div>`).join('')}</div>`;
}

export function pipelineVerdict(view: PipelineRunView): { text: string; tone: 'ok' | 'bad' | 'warn' } {
  if (view.failure) return { text: `The run failed: ${view.failure.error}.`, tone: 'bad' };
  const f = view.files;
  if (!f) return { text: 'The run ended without a job 1 summary.', tone: 'warn' };
  if (f.quarantined > 0)
    return {
      text: `Ingested ${fmtInt(f.ingested)} of ${fmtInt(f.inBatch)} new file(s); ${fmtInt(f.quarantined)} quarantined.`,
      tone: 'warn',
    };
  if (f.inBatch === 0) return { text: 'Nothing new to ingest: the tables were already up to date.', tone: 'ok' };
  return { text: `Ingested everything: all ${fmtInt(f.inBatch)} new file(s).`, tone: 'ok' };
}

function filesSection(view: PipelineRunView): string {
  const f = view.files;
  if (!f) return '<section id="files"><h2>Files</h2><p class="muted">Job 1 wrote no summary.</p></section>';
  const rows = f.quarantinedFiles
    .map((q) => `<tr><td class="key">${esc(q.key)}</td><td>${esc(q.reason)}</td></tr>`)
    .join('');
  const cut =
    f.quarantined > f.quarantinedFiles.length
      ? `<p class="muted">Showing ${f.quarantinedFiles.length} of ${fmtInt(f.quarantined)}; the rejected_files table has them all.</p>`
      : '';
  const table = f.quarantined
    ? '<table id="quarantine"><caption>Quarantined files</caption><thead><tr><th scope="col">file</th>' +
      `<th scope="col">reason</th></tr></thead><tbody>${rows}</tbody></table>${cut}`
    : '<p>No file was quarantined.</p>';
  return (
    '<section id="files"><h2>Files</h2>' +
    kpis([
      ['listed', fmtInt(f.listed)],
      ['new (in this batch)', fmtInt(f.inBatch)],
      ['ingested', fmtInt(f.ingested)],
      ['quarantined', fmtInt(f.quarantined)],
      ['duplicate experiments', fmtInt(f.duplicateExperiments)],
    ]) +
    `${table}</section>`
  );
}

function rowsSection(view: PipelineRunView): string {
  const tables = new Map<string, Record<string, number>>();
  for (const job of view.jobs) {
    for (const [table, n] of Object.entries(job.newRows)) tables.set(table, { ...tables.get(table), [job.label]: n });
  }
  if (tables.size === 0) return '';
  const labels = view.jobs.map((j) => j.label);
  const body = [...tables.entries()]
    .map(
      ([table, counts]) =>
        `<tr><th scope="row">${esc(table)}</th>${labels.map((l) => `<td class="n">${counts[l] === undefined ? '' : fmtInt(counts[l])}</td>`).join('')}</tr>`,
    )
    .join('');
  return (
    '<section id="rows"><h2>Rows per table</h2><table id="rows-table"><caption>New rows written by this run</caption>' +
    `<thead><tr><th scope="col">table</th>${labels.map((l) => `<th scope="col" class="n">${esc(l)}</th>`).join('')}</tr></thead>` +
    `<tbody>${body}</tbody></table></section>`
  );
}

function timingsSection(view: PipelineRunView): string {
  const jobs = view.jobs
    .map(
      (j) =>
        `<tr><th scope="row">${esc(j.label)}</th><td>${esc(j.status)}</td><td class="n">${esc(fmtSeconds(j.durationSeconds))}</td>` +
        `<td class="key">${esc(j.batchId ?? '')}</td></tr>`,
    )
    .join('');
  const byJob = new Map<string, typeof view.history>();
  for (const h of view.history) byJob.set(h.job, [...(byJob.get(h.job) ?? []), h]);
  const colourOf = (job: string) => PALETTE[[...byJob.keys()].indexOf(job) % PALETTE.length];
  const timed = [...byJob.entries()].filter(([, points]) => points.some((p) => p.durationSeconds !== null));
  const chart = (
    label: string,
    id: string,
    y: (p: (typeof view.history)[number]) => number | null,
    unit: string,
    source: [string, typeof view.history][],
  ) =>
    lineChart({
      id,
      title: label,
      xLabel: 'run (oldest to newest)',
      yLabel: unit,
      height: 180,
      series: source.map(([job, points]) => ({
        name: job,
        colour: colourOf(job),
        points: points.flatMap((p, k) => {
          const v = y(p);
          return v === null ? [] : [[k + 1, v] as const];
        }),
      })),
    });
  const history = [...byJob.entries()];
  const charts =
    history.length === 0
      ? '<p class="muted">No history (job 2 wrote no report data).</p>'
      : legend(history.map(([job]) => ({ name: job, colour: colourOf(job) }))) +
        (timed.length
          ? `<figure><figcaption>Duration of the last runs</figcaption>${chart('Job duration per run', 'history-duration', (p) => p.durationSeconds, 'seconds', timed)}</figure>`
          : '') +
        `<figure><figcaption>Rows written by the last runs (processing_metadata)</figcaption>${chart('Rows written per run', 'history-rows', (p) => p.totalRows, 'rows', history)}</figure>`;
  return (
    '<section id="timings"><h2>Job timings</h2><table id="jobs-table"><caption>This run</caption><thead><tr>' +
    '<th scope="col">job</th><th scope="col">status</th><th scope="col" class="n">duration</th><th scope="col">batch</th>' +
    `</tr></thead><tbody>${jobs}</tbody></table>${charts}</section>`
  );
}

/** The execution's error and cause, as the Catch recorded them. */
function failureSection(failure: { readonly error: string; readonly cause: string } | undefined): string {
  return failure
    ? `<section id="failure"><h2>Failure</h2><p><strong>${esc(failure.error)}</strong></p><pre>${esc(failure.cause)}</pre></section>`
    : '';
}

export function renderPipelineRun(view: PipelineRunView): string {
  const failure = failureSection(view.failure);
  return page(
    `Feature pipeline run ${view.runId}`,
    pipelineVerdict(view),
    failure + filesSection(view) + rowsSection(view) + timingsSection(view) + physicsSections(view.physics),
    view.generatedAt,
  );
}

export function batchVerdict(view: BatchView): { text: string; tone: 'ok' | 'bad' | 'warn' } {
  const t = view.lanes.reduce(
    (a, l) => ({ planned: a.planned + l.planned, done: a.done + l.done, bad: a.bad + l.failed + l.timedOut }),
    { planned: 0, done: 0, bad: 0 },
  );
  const text = `${fmtInt(t.done)} of ${fmtInt(t.planned)} run(s) done${t.bad ? `, ${fmtInt(t.bad)} failed or timed out` : ''}`;
  if (view.failure) return { text: `The batch failed: ${view.failure.error}. ${text}.`, tone: 'bad' };
  if (!view.finished) return { text: `Running: ${text}.`, tone: 'warn' };
  return { text: `Finished: ${text}.`, tone: t.bad ? 'warn' : 'ok' };
}

const LANE_PARTS = [
  ['done', 'done', STATUS_COLOURS.ok],
  ['failed', 'failed', STATUS_COLOURS.bad],
  ['timedOut', 'timed out', '#CC79A7'],
  ['inProgress', 'in progress', STATUS_COLOURS.run],
  ['pending', 'pending', STATUS_COLOURS.idle],
] as const;

export function renderBatch(view: BatchView): string {
  const lanes = view.lanes
    .map(
      (l) =>
        `<tr><th scope="row">${esc(l.lane)}</th><td class="n">${fmtInt(l.planned)}</td><td class="n">${fmtInt(l.done)}</td>` +
        `<td class="n">${fmtInt(l.failed)}</td><td class="n">${fmtInt(l.timedOut)}</td><td class="n">${fmtInt(l.inProgress)}</td>` +
        `<td class="n">${fmtInt(l.pending)}</td><td class="n">${esc(fmtSeconds(l.meanRunSeconds))}</td>` +
        `<td class="n">${esc(fmtSeconds(l.etaSeconds))}</td><td class="n">${fmtInt(l.records)}</td></tr>`,
    )
    .join('');
  const progress =
    '<section id="lanes"><h2>Progress per lane</h2>' +
    stackedBars({
      id: 'lane-progress',
      title: 'Runs per lane by status',
      rows: view.lanes.map((l) => ({
        label: l.lane,
        parts: LANE_PARTS.map(([field, name, colour]) => ({ name, value: l[field], colour })),
      })),
    }) +
    '<table id="lanes-table"><caption>Lanes</caption><thead><tr><th scope="col">lane</th><th scope="col" class="n">planned</th>' +
    '<th scope="col" class="n">done</th><th scope="col" class="n">failed</th><th scope="col" class="n">timed out</th>' +
    '<th scope="col" class="n">in progress</th><th scope="col" class="n">pending</th><th scope="col" class="n">mean run</th>' +
    '<th scope="col" class="n">ETA</th><th scope="col" class="n">records</th></tr></thead>' +
    `<tbody>${lanes}</tbody></table></section>`;
  const laneNames = [...new Set(view.runs.map((r) => r.lane))];
  const durations =
    '<section id="durations"><h2>Run durations</h2>' +
    (view.runs.length
      ? lineChart({
          id: 'run-durations',
          title: 'Seconds per run, in start order',
          xLabel: 'run',
          yLabel: 'seconds',
          height: 220,
          series: laneNames.map((lane, i) => ({
            name: lane,
            colour: PALETTE[i % PALETTE.length],
            points: view.runs
              .map((r, k) => [k + 1, r.seconds, r.lane] as const)
              .filter((p) => p[2] === lane)
              .map((p) => [p[0], p[1]] as const),
          })),
        })
      : '<p class="muted">No run has ended yet.</p>') +
    '</section>';
  const physics =
    view.physics === null
      ? '<section id="convergence"><h2>Convergence and energy error</h2><p class="muted">No feature pipeline run ' +
        'has processed this batch yet: its convergence curves and energy errors appear once one has.</p></section>'
      : physicsSections(view.physics);
  return page(
    `VQE batch ${view.batchId} (tier ${view.tier})`,
    batchVerdict(view),
    kpis([
      ['started', view.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')],
      ['lanes', String(view.lanes.length)],
      ['runs ended', fmtInt(view.runs.length)],
      ['records delivered', fmtInt(view.lanes.reduce((sum, l) => sum + l.records, 0))],
    ]) +
      failureSection(view.failure) +
      progress +
      durations +
      physics,
    view.generatedAt,
  );
}

export function render(view: ReportView): string {
  return view.kind === 'batch' ? renderBatch(view) : renderPipelineRun(view);
}
