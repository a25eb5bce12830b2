/** The name a run's container (and its host folder) gets; SDK-free, for the launchers and delivery.ts. */

/** A container name Docker accepts, unique per run key: qp-<readable part>-<hash>. */
export function containerNameFor(runKey: string): string {
  let hash = 0x811c9dc5;
  for (const char of runKey) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  const readable = runKey
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return `qp-${readable}-${hash.toString(16).padStart(8, '0')}`;
}
