/**
 * The CDK app reads the Lambdas' vocabulary (env names, event sources, settings schemas, error
 * names) from their contract.ts files only, and those load no SDK: synthesizing a template must
 * never pull in the S3, SSM or Secrets Manager clients or a launcher.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repo = resolve(__dirname, '..', '..');

function tsFilesUnder(dir: string): string[] {
  return readdirSync(join(repo, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(dir, name));
}

/** The module specifiers a file imports or re-exports, as TypeScript's own pre-parser finds them. */
function importsOf(file: string): string[] {
  return ts
    .preProcessFile(readFileSync(join(repo, file), 'utf8'), true, true)
    .importedFiles.map((entry) => entry.fileName);
}

/** A relative specifier as a repository path (`lambdas/core/contract.ts`). */
function resolveRelative(from: string, specifier: string): string {
  const base = relative(repo, resolve(repo, dirname(from), specifier));
  return base.endsWith('.ts') ? base : `${base}.ts`;
}

/** Every package a module loads, following its relative imports. */
function packagesReachedFrom(entry: string): Map<string, string> {
  const packages = new Map<string, string>(); // package -> the file that imports it
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith('.')) queue.push(resolveRelative(file, specifier));
      else packages.set(specifier, file);
    }
  }
  return packages;
}

describe('the boundary between infra/ and lambdas/', () => {
  it('lets infra/ import only the contract.ts files of lambdas/', () => {
    // Prepare
    const infraFiles = tsFilesUnder('infra');

    // Act
    const crossings = infraFiles.flatMap((file) =>
      importsOf(file)
        .filter((specifier) => specifier.startsWith('.'))
        .map((specifier) => resolveRelative(file, specifier))
        .filter((target) => target.startsWith('lambdas/'))
        .map((target) => `${file} -> ${target}`),
    );

    // Assess
    expect(crossings.length).toBeGreaterThan(0);
    expect(crossings.filter((crossing) => !crossing.endsWith('/contract.ts'))).toEqual([]);
  });

  it('keeps every contract.ts, and all it imports, free of any package but zod', () => {
    // Prepare
    const contracts = tsFilesUnder('lambdas').filter((file) => file.endsWith('/contract.ts'));

    // Act
    const offending = contracts.flatMap((contract) =>
      [...packagesReachedFrom(contract)]
        .filter(([name]) => name !== 'zod')
        .map(([name, importer]) => `${contract}: ${importer} imports ${name}`),
    );

    // Assess
    expect(contracts.sort()).toEqual([
      'lambdas/core/contract.ts',
      'lambdas/feature-pipeline/contract.ts',
      'lambdas/maintenance/contract.ts',
      'lambdas/r2-sync/contract.ts',
      'lambdas/report/contract.ts',
      'lambdas/vqe-batch/contract.ts',
    ]);
    expect(offending).toEqual([]);
  });
});
