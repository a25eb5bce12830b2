/**
 * The physics sections both pages share: convergence curves of sampled runs per molecule x
 * optimizer x ansatz, and the energy error per molecule x optimizer x ansatz against the reference,
 * with chemical accuracy (1.6 mHa) marked — which optimizer and ansatz actually get there.
 */
import { barChart, legend, lineChart } from './charts';
import { CHEMICAL_ACCURACY_HARTREE, type EnergyErrorGroup, type PhysicsView } from './contract';
import { esc, fmtInt, fmtMilliHartree, PALETTE, STATUS_COLOURS } from './html';

const ERROR_FLOOR = 1e-6;

function groupName(g: { molecule: string; basis: string; optimizer: string; ansatz: string }): string {
  return `${g.molecule} (${g.basis}) · ${g.optimizer} · ${g.ansatz}`;
}

/** One chart per molecule and basis: a line per sampled run, coloured by optimizer. */
export function convergenceSection(physics: PhysicsView): string {
  if (physics.convergence.length === 0) return '<p class="muted">No iterations in this run.</p>';
  const byMolecule = new Map<string, typeof physics.convergence>();
  for (const g of physics.convergence) {
    const key = `${g.molecule} (${g.basis})`;
    byMolecule.set(key, [...(byMolecule.get(key) ?? []), g]);
  }
  const optimizers = [...new Set(physics.convergence.map((g) => g.optimizer))].sort();
  const colourOf = (optimizer: string) => PALETTE[optimizers.indexOf(optimizer) % PALETTE.length];
  const reference = new Map(
    physics.energyError.filter((e) => e.reference_kind === 'exact').map((e) => [`${e.molecule} (${e.basis})`, e]),
  );
  const charts = [...byMolecule.entries()].map(([molecule, groups], i) => {
    const series = groups.flatMap((g) =>
      g.samples.map((s) => ({
        name: `${g.optimizer} · ${g.ansatz} · ${s.init_strategy} · ${s.experiment_id.slice(0, 8)}`,
        colour: colourOf(g.optimizer),
        points: s.points,
      })),
    );
    const exact = reference.get(molecule);
    const runs = groups.reduce((a, g) => a + g.runs, 0);
    return (
      `<figure><figcaption>${esc(molecule)}: ${series.length} sampled of ${fmtInt(runs)} runs</figcaption>` +
      lineChart({
        id: `convergence-${i}`,
        title: `Energy per iteration, ${molecule}`,
        xLabel: 'iteration',
        yLabel: 'energy (Ha)',
        width: 440,
        series,
        reference: exact
          ? { y: exact.reference_energy, label: `exact reference ${exact.reference_energy} Ha` }
          : undefined,
      }) +
      '</figure>'
    );
  });
  const more =
    physics.groupsTotal > physics.convergence.length
      ? `<p class="muted">Showing ${physics.convergence.length} of ${physics.groupsTotal} molecule × optimizer × ansatz groups.</p>`
      : '';
  return (
    legend(optimizers.map((o) => ({ name: o, colour: colourOf(o) }))) +
    `<div class="grid">${charts.join('')}</div>${more}`
  );
}

function verdictOf(e: EnergyErrorGroup): { text: string; colour: string } {
  if (e.best_error < -CHEMICAL_ACCURACY_HARTREE && e.reference_kind === 'exact')
    return { text: 'below the exact energy: check the data', colour: STATUS_COLOURS.bad };
  if (e.within_chemical_accuracy > 0) return { text: 'reaches chemical accuracy', colour: STATUS_COLOURS.ok };
  return { text: 'does not reach it', colour: STATUS_COLOURS.warn };
}

/** Bars of the best error per group (log scale), the 1.6 mHa line, and the table behind them. */
export function energyErrorSection(physics: PhysicsView): string {
  const groups = physics.energyError;
  if (groups.length === 0) return '<p class="muted">No final energies in this run.</p>';
  const exact = groups.filter((g) => g.reference_kind === 'exact').length;
  const note =
    exact === groups.length
      ? '<p>Against the exact (FCI) reference energy of each molecule and basis.</p>'
      : `<p class="note">${exact === 0 ? 'No' : `Only ${exact} of ${groups.length}`} group(s) have an exact reference: ` +
        'the others are measured against the <strong>lowest energy this run reached</strong> for that molecule and ' +
        'basis — a gap between optimizers, not an error against the truth.</p>';
  const chart = barChart({
    id: 'energy-error',
    title: 'Best energy error per molecule, optimizer and ansatz',
    unit: 'best error (Ha)',
    log: { floor: ERROR_FLOOR },
    threshold: { value: CHEMICAL_ACCURACY_HARTREE, label: 'chemical accuracy, 1.6 mHa' },
    labelWidth: 260,
    bars: groups.map((g) => ({
      label: groupName(g),
      value: Math.abs(g.best_error),
      colour: verdictOf(g).colour,
      detail:
        `${groupName(g)}: best error ${fmtMilliHartree(g.best_error)} ` +
        `(${g.reference_kind === 'exact' ? 'exact reference' : 'vs best seen'}), ` +
        `${g.within_chemical_accuracy} of ${g.runs} run(s) within 1.6 mHa`,
    })),
  });
  const rows = groups
    .map((g) => {
      const v = verdictOf(g);
      return (
        `<tr><td>${esc(g.molecule)}</td><td>${esc(g.basis)}</td><td>${esc(g.optimizer)}</td><td>${esc(g.ansatz)}</td>` +
        `<td class="n">${fmtInt(g.runs)}</td><td class="n">${esc(fmtMilliHartree(g.best_error))}</td>` +
        `<td class="n">${esc(fmtMilliHartree(g.median_error))}</td>` +
        `<td class="n">${fmtInt(g.within_chemical_accuracy)} / ${fmtInt(g.runs)}</td>` +
        `<td>${esc(g.reference_kind === 'exact' ? 'exact' : 'best seen')}</td>` +
        `<td><span class="dot" style="background:${v.colour}"></span>${esc(v.text)}</td></tr>`
      );
    })
    .join('');
  return (
    note +
    legend([
      { name: 'reaches 1.6 mHa', colour: STATUS_COLOURS.ok },
      { name: 'does not', colour: STATUS_COLOURS.warn },
      { name: 'below the exact energy', colour: STATUS_COLOURS.bad },
    ]) +
    chart +
    '<table id="energy-error-table"><caption>Energy error per group</caption><thead><tr>' +
    '<th scope="col">molecule</th><th scope="col">basis</th><th scope="col">optimizer</th><th scope="col">ansatz</th>' +
    '<th scope="col">runs</th><th scope="col">best error</th><th scope="col">median error</th>' +
    '<th scope="col">within 1.6 mHa</th><th scope="col">reference</th><th scope="col">verdict</th>' +
    `</tr></thead><tbody>${rows}</tbody></table>`
  );
}

export function physicsSections(physics: PhysicsView | null): string {
  if (!physics) return '';
  return (
    `<section id="convergence"><h2>Convergence</h2><p class="muted">${esc(physics.source)}; ` +
    `${fmtInt(physics.experiments)} experiment(s).</p>${convergenceSection(physics)}</section>` +
    `<section id="energy-error"><h2>Energy error and chemical accuracy</h2>${energyErrorSection(physics)}</section>`
  );
}
