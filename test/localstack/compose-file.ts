/**
 * Reads one service of localstack/compose/compose.yaml: its image and environment, with Compose's
 * `${VAR}`, `${VAR:-default}` and `${VAR:?message}` resolved against the variables given (none:
 * what a machine without overrides gets). A small reader of the block style the file is written
 * in, not a YAML parser (the project declares no YAML package): anything else is an error naming
 * the line, never a silent miss.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const COMPOSE_FILE = join(__dirname, '..', '..', 'localstack', 'compose', 'compose.yaml');

export interface ComposeService {
  readonly image: string;
  readonly environment: Readonly<Record<string, string>>;
}

const indentOf = (line: string): number => line.length - line.trimStart().length;
const isBlankOrComment = (line: string): boolean => /^\s*(#.*)?$/.test(line);

/** A scalar as Compose reads it: quotes removed, a trailing ` # comment` dropped. */
function scalar(raw: string, where: string): string {
  const text = raw.trim();
  const quoted = /^(["'])(.*)\1$/.exec(text);
  if (quoted) return quoted[2];
  if (/^["']/.test(text)) throw new Error(`${where}: unterminated quoted value ${text}`);
  return text.replace(/\s+#.*$/, '');
}

/** Compose's variable interpolation; `${VAR:?message}` with VAR unset is an error, as in Compose. */
export function interpolate(value: string, variables: Readonly<Record<string, string>>, where: string): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (_, name: string, op?: string, arg?: string) => {
      const set = variables[name];
      const usable = op?.startsWith(':') ? set !== undefined && set !== '' : set !== undefined;
      if (usable) return set as string;
      if (op?.endsWith('?')) throw new Error(`${where}: ${name} is required (${arg})`);
      return op?.endsWith('-') ? (arg ?? '') : '';
    },
  );
}

export function readComposeService(
  name: string,
  variables: Readonly<Record<string, string>> = {},
  file = COMPOSE_FILE,
): ComposeService {
  const lines = readFileSync(file, 'utf8').split('\n');
  const servicesAt = lines.findIndex((line) => /^services:\s*$/.test(line));
  if (servicesAt < 0) throw new Error(`${file}: no top-level services: mapping`);
  const startAt = lines.findIndex((line, i) => i > servicesAt && line === `  ${name}:`);
  if (startAt < 0) throw new Error(`${file}: no service ${name} under services: (expected a line "  ${name}:")`);
  let endAt = lines.findIndex((line, i) => i > startAt && !isBlankOrComment(line) && indentOf(line) <= 2);
  if (endAt < 0) endAt = lines.length;
  const body = lines.slice(startAt + 1, endAt);
  const where = (i: number) => `${file}:${startAt + 2 + i}`;

  let image: string | undefined;
  const environment: Record<string, string> = {};
  for (let i = 0; i < body.length; i++) {
    const line = body[i];
    if (isBlankOrComment(line) || indentOf(line) !== 4) continue;
    const key = /^ {4}([A-Za-z_]+):(.*)$/.exec(line);
    if (!key) throw new Error(`${where(i)}: expected "key: value" at indent 4, got ${JSON.stringify(line)}`);
    if (key[1] === 'image') image = interpolate(scalar(key[2], where(i)), variables, where(i));
    if (key[1] !== 'environment') continue;
    if (key[2].trim() !== '') throw new Error(`${where(i)}: expected environment as a block mapping or list`);
    for (i++; i < body.length && (isBlankOrComment(body[i]) || indentOf(body[i]) > 4); i++) {
      if (isBlankOrComment(body[i])) continue;
      // `KEY: value` (mapping) or `- KEY=value` (list): Compose accepts both.
      const entry = /^ {6}(?:([A-Za-z_][A-Za-z0-9_]*):(.*)|- ([A-Za-z_][A-Za-z0-9_]*)=(.*))$/.exec(body[i]);
      if (!entry) throw new Error(`${where(i)}: expected an environment entry, got ${JSON.stringify(body[i])}`);
      const [variable, raw] = entry[1] ? [entry[1], entry[2]] : [entry[3], entry[4]];
      environment[variable] = interpolate(scalar(raw, where(i)), variables, where(i));
    }
    i--;
  }
  if (image === undefined) throw new Error(`${file}: service ${name} has no image:`);
  return { image, environment };
}
