/**
 * Inline SVG charts: no script, no font, no stylesheet from elsewhere. Every chart is an
 * `<svg role="img">` with a `<title>` and `<desc>`; every data point is an element of class
 * `point` with its own `<title>` (a tooltip, and what a screen reader or a test finds).
 */
import { esc, num, PALETTE } from './html';

const W = 640;
const PAD = { left: 64, right: 16, top: 16, bottom: 40 };

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly colour?: string;
}

function frame(title: string, desc: string, height: number, body: string, id: string, width = W): string {
  return (
    `<svg class="chart" data-chart="${esc(id)}" role="img" viewBox="0 0 ${width} ${height}" width="100%" ` +
    `aria-labelledby="${esc(id)}-t ${esc(id)}-d" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="${esc(id)}-t">${esc(title)}</title><desc id="${esc(id)}-d">${esc(desc)}</desc>${body}</svg>`
  );
}

function extent(values: number[]): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) {
    // One value: whole numbers (runs, iterations) get a step either side, others 5 %.
    const pad = Number.isInteger(lo) ? 1 : Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

/** Four tick values over [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  return [0, 1, 2, 3].map((i) => lo + ((hi - lo) * i) / 3);
}

/** A tick value with as many decimals as the axis' span needs (energies near -107 Ha differ in the third). */
function tickLabel(v: number, span?: number): string {
  const a = Math.abs(v);
  if (span !== undefined && span > 0) {
    const decimals = Math.min(6, Math.max(0, Math.ceil(-Math.log10(span / 3)) + 1));
    if (a < 1e5) return v.toFixed(decimals);
  }
  if (a !== 0 && (a < 0.01 || a >= 1e5)) return v.toExponential(1);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** Lines of (x, y) points, e.g. energy per iteration; optional horizontal reference line. */
export function lineChart(options: {
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly height?: number;
  readonly reference?: { readonly y: number; readonly label: string };
  /** Width in SVG units: a narrower chart keeps its text legible when shown smaller (a grid cell). @default 640 */
  readonly width?: number;
}): string {
  const h = options.height ?? 240;
  const W = options.width ?? 640;
  const all = options.series.flatMap((s) => s.points);
  const [x0, x1] = extent(all.map((p) => p[0]));
  const [y0, y1] = extent([...all.map((p) => p[1]), ...(options.reference ? [options.reference.y] : [])]);
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y: number) => h - PAD.bottom - ((y - y0) / (y1 - y0)) * (h - PAD.top - PAD.bottom);
  const grid = ticks(y0, y1)
    .map(
      (v) =>
        `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${num(sy(v))}" y2="${num(sy(v))}" class="grid"/>` +
        `<text x="${PAD.left - 6}" y="${num(sy(v) + 4)}" text-anchor="end" class="tick">${esc(tickLabel(v, y1 - y0))}</text>`,
    )
    .join('');
  // Whole-number x values (iterations, runs): each tick label once.
  const xTicks = [...new Set(ticks(x0, x1).map((v) => Math.round(v)))]
    .filter((v) => v >= x0 && v <= x1)
    .map(
      (v) =>
        `<text x="${num(sx(v))}" y="${h - PAD.bottom + 16}" text-anchor="middle" class="tick">${esc(String(Math.round(v)))}</text>`,
    )
    .join('');
  const ref = options.reference
    ? `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${num(sy(options.reference.y))}" y2="${num(sy(options.reference.y))}" class="ref">` +
      `<title>${esc(options.reference.label)}</title></line>`
    : '';
  const lines = options.series
    .map((s, i) => {
      const colour = s.colour ?? PALETTE[i % PALETTE.length];
      const path = s.points.map((p) => `${num(sx(p[0]))},${num(sy(p[1]))}`).join(' ');
      const dots = s.points
        .map(
          (p) =>
            `<circle class="point" cx="${num(sx(p[0]))}" cy="${num(sy(p[1]))}" r="2" fill="${colour}">` +
            // The series is named once, on its group; each point only says where it is (keeps big pages small).
            `<title>${esc(options.xLabel)} ${esc(p[0])}: ${esc(p[1])}</title></circle>`,
        )
        .join('');
      return (
        `<g class="series" data-series="${esc(s.name)}"><title>${esc(s.name)}</title>` +
        `<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="1.5"/>${dots}</g>`
      );
    })
    .join('');
  const axes =
    `<text x="${(W + PAD.left) / 2}" y="${h - 6}" text-anchor="middle" class="axis">${esc(options.xLabel)}</text>` +
    `<text x="14" y="${h / 2}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${h / 2})">${esc(options.yLabel)}</text>`;
  const desc = `${options.series.length} series, ${all.length} points; ${options.yLabel} against ${options.xLabel}`;
  return frame(options.title, desc, h, grid + xTicks + ref + lines + axes, options.id, W);
}

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly colour: string;
  /** The bar's tooltip. */
  readonly detail: string;
}

/**
 * Horizontal bars, one per row, on a linear or log10 axis; an optional vertical threshold line
 * (e.g. chemical accuracy). Values at or below `floor` are drawn at the floor on a log axis.
 */
export function barChart(options: {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
  readonly log?: { readonly floor: number };
  readonly threshold?: { readonly value: number; readonly label: string };
  readonly labelWidth?: number;
}): string {
  const left = options.labelWidth ?? 200;
  const row = 22;
  const h = PAD.top + options.bars.length * row + 34;
  const values = options.bars.map((b) => b.value);
  if (options.threshold) values.push(options.threshold.value);
  const tf = (v: number) => (options.log ? Math.log10(Math.max(v, options.log.floor)) : v);
  const lo = options.log ? Math.log10(options.log.floor) : Math.min(0, ...values);
  const hi = Math.max(lo + 1e-9, ...values.map(tf)) * (options.log ? 1 : 1.05);
  const top = options.log ? Math.ceil(hi) : hi;
  const sx = (v: number) => left + ((tf(v) - lo) / (top - lo || 1)) * (W - left - PAD.right);
  const bars = options.bars
    .map((b, i) => {
      const y = PAD.top + i * row;
      return (
        `<g class="bar-row"><text x="${left - 6}" y="${y + 14}" text-anchor="end" class="tick">${esc(b.label)}</text>` +
        `<rect class="point" x="${left}" y="${y + 3}" width="${num(Math.max(1, sx(b.value) - left))}" height="${row - 6}" fill="${b.colour}">` +
        `<title>${esc(b.detail)}</title></rect></g>`
      );
    })
    .join('');
  const axisTicks = options.log
    ? Array.from({ length: Math.round(top - lo) + 1 }, (_, i) => 10 ** (lo + i))
    : ticks(0, top);
  const axis = axisTicks
    .map(
      (v) =>
        `<line x1="${num(sx(v))}" x2="${num(sx(v))}" y1="${PAD.top}" y2="${h - 30}" class="grid"/>` +
        `<text x="${num(sx(v))}" y="${h - 16}" text-anchor="middle" class="tick">${esc(tickLabel(v))}</text>`,
    )
    .join('');
  const threshold = options.threshold
    ? `<line class="ref" x1="${num(sx(options.threshold.value))}" x2="${num(sx(options.threshold.value))}" y1="${PAD.top - 6}" y2="${h - 30}">` +
      `<title>${esc(options.threshold.label)}</title></line>`
    : '';
  const unit = `<text x="${W - PAD.right}" y="${h - 2}" text-anchor="end" class="axis">${esc(options.unit)}${options.log ? ' (log scale)' : ''}</text>`;
  const desc = `${options.bars.length} bars in ${options.unit}${options.threshold ? `; line: ${options.threshold.label}` : ''}`;
  return frame(options.title, desc, h, axis + bars + threshold + unit, options.id);
}

export interface StackPart {
  readonly name: string;
  readonly value: number;
  readonly colour: string;
}

/** One stacked horizontal bar per row (e.g. a lane's runs by status), scaled to its own total. */
export function stackedBars(options: {
  readonly id: string;
  readonly title: string;
  readonly rows: readonly { readonly label: string; readonly parts: readonly StackPart[] }[];
}): string {
  const left = 90;
  const row = 28;
  const h = PAD.top + options.rows.length * row + 8;
  const body = options.rows
    .map((r, i) => {
      const y = PAD.top + i * row;
      const total = r.parts.reduce((a, p) => a + p.value, 0) || 1;
      let x = left;
      const parts = r.parts
        .filter((p) => p.value > 0)
        .map((p) => {
          const w = (p.value / total) * (W - left - PAD.right);
          const rect =
            `<rect class="point" x="${num(x)}" y="${y}" width="${num(w)}" height="${row - 8}" fill="${p.colour}">` +
            `<title>${esc(r.label)}: ${esc(p.value)} ${esc(p.name)}</title></rect>`;
          x += w;
          return rect;
        })
        .join('');
      return `<g class="bar-row"><text x="${left - 6}" y="${y + 15}" text-anchor="end" class="tick">${esc(r.label)}</text>${parts}</g>`;
    })
    .join('');
  return frame(options.title, `${options.rows.length} rows of stacked counts`, h, body, options.id);
}

/** A small legend as HTML (colour swatch + name). */
export function legend(items: readonly { readonly name: string; readonly colour: string }[]): string {
  return `<p class="legend">${items
    .map((i) => `<span><i style="background:${esc(i.colour)}"></i>${esc(i.name)}</span>`)
    .join(' ')}</p>`;
}
