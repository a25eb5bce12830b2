/** Escaping and number formatting the report's pages and charts share. */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value -> HTML-safe text. Everything that comes from data goes through here. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Okabe-Ito: tells colours apart with the common colour-vision deficiencies. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

export const STATUS_COLOURS = {
  ok: '#009E73',
  bad: '#D55E00',
  warn: '#E69F00',
  idle: '#9aa5b1',
  run: '#56B4E9',
} as const;

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US');
}

export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Hartree -> "1.23 mHa" (the unit chemical accuracy is said in). */
export function fmtMilliHartree(h: number): string {
  const m = h * 1000;
  return `${Math.abs(m) >= 100 ? m.toFixed(0) : Math.abs(m) >= 1 ? m.toFixed(2) : m.toPrecision(2)} mHa`;
}

/** A short, stable number for SVG coordinates. */
export function num(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 10) / 10) : '0';
}
