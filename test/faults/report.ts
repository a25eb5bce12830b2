/** Prints the fault table of a whole `npm run test:faults` run from the JSON lines its files appended. */
import { existsSync, readFileSync } from 'node:fs';
import { type FaultRecord, printFaultTable } from './faults';

const file = process.argv[2];
const records: FaultRecord[] =
  file && existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];
printFaultTable(records);
