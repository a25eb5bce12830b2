/**
 * Rewrites the records of an Avro object container file (Iceberg's manifests and manifest lists)
 * without knowing their schema in advance: the schema in the file's header drives a transcoder
 * that reads each value and writes it again, passing every string and long through hooks on the
 * way. The header (schema, codec, sync marker) is kept byte for byte; each block is re-encoded
 * and re-compressed, since a changed string changes its length.
 *
 * Longs are BigInts end to end: Iceberg's snapshot and sequence ids use all 64 bits.
 * Codecs: null and deflate (Iceberg's default, gzip, is Avro's deflate). Others are refused by name.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const SYNC_SIZE = 16;

/** A malformed file or one this transcoder cannot handle (a codec, a schema construct). */
export class AvroFormatError extends Error {
  override readonly name = 'AvroFormatError';
}

interface SchemaObject {
  readonly type: Schema;
  readonly name?: string;
  readonly namespace?: string;
  readonly fields?: readonly { readonly name: string; readonly type: Schema }[];
  readonly items?: Schema;
  readonly values?: Schema;
  readonly size?: number;
}
type Schema = string | Schema[] | SchemaObject;

export interface AvroHooks {
  /** Every string value, with the name of the record field it sits in (or '' inside arrays and maps). */
  readonly string?: (value: string, field: string) => string;
  /** Every long value of a record field; `siblings` holds the strings read so far in that record. */
  readonly long?: (value: bigint, field: string, siblings: ReadonlyMap<string, string>) => bigint;
}

class Reader {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}

  long(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.offset >= this.bytes.length) throw new AvroFormatError('unexpected end of data in a varint');
      const byte = this.bytes[this.offset++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
      if (shift > 70n) throw new AvroFormatError('varint longer than 10 bytes');
    }
    return (result >> 1n) ^ -(result & 1n); // zigzag
  }

  count(): number {
    const value = this.long();
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new AvroFormatError(`length ${value} out of range`);
    }
    return Number(value);
  }

  take(length: number): Buffer {
    if (length < 0 || this.offset + length > this.bytes.length) {
      throw new AvroFormatError(`a value of ${length} bytes runs past the end of the data`);
    }
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }
}

class Writer {
  private readonly chunks: Buffer[] = [];

  long(value: bigint): void {
    let zigzag = value >= 0n ? value << 1n : (-value << 1n) - 1n;
    const bytes: number[] = [];
    do {
      let byte = Number(zigzag & 0x7fn);
      zigzag >>= 7n;
      if (zigzag !== 0n) byte |= 0x80;
      bytes.push(byte);
    } while (zigzag !== 0n);
    this.chunks.push(Buffer.from(bytes));
  }

  raw(bytes: Buffer): void {
    this.chunks.push(bytes);
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Named types (records, enums, fixed) by full and short name, for schemas that refer to them. */
type Names = Map<string, Schema>;

function register(schema: Schema, names: Names, namespace = ''): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) register(branch, names, namespace);
    return;
  }
  if (typeof schema === 'string') return;
  const space = typeof schema.namespace === 'string' ? schema.namespace : namespace;
  if (typeof schema.type !== 'string') {
    register(schema.type, names, space);
    return;
  }
  if (['record', 'error', 'enum', 'fixed'].includes(schema.type) && typeof schema.name === 'string') {
    names.set(schema.name, schema);
    if (space && !schema.name.includes('.')) names.set(`${space}.${schema.name}`, schema);
  }
  if (schema.type === 'record' || schema.type === 'error') {
    for (const field of schema.fields ?? []) register(field.type, names, space);
  } else if (schema.type === 'array' && schema.items !== undefined) register(schema.items, names, space);
  else if (schema.type === 'map' && schema.values !== undefined) register(schema.values, names, space);
}

/** Reads one value of `schema` and writes it again, through the hooks; a record's strings go to `siblings`. */
function transcode(
  schema: Schema,
  input: Reader,
  output: Writer,
  names: Names,
  hooks: AvroHooks,
  field: string,
  siblings?: Map<string, string>,
): void {
  if (Array.isArray(schema)) {
    const branch = input.long();
    const chosen = schema[Number(branch)];
    if (chosen === undefined) throw new AvroFormatError(`union branch ${branch} of ${schema.length} in field ${field}`);
    output.long(branch);
    transcode(chosen, input, output, names, hooks, field, siblings);
    return;
  }
  const type = typeof schema === 'string' ? schema : schema.type;
  if (typeof type !== 'string') {
    transcode(type, input, output, names, hooks, field, siblings);
    return;
  }
  const definition: SchemaObject = typeof schema === 'string' ? { type } : schema;
  switch (type) {
    case 'null':
      return;
    case 'boolean':
      output.raw(input.take(1));
      return;
    case 'float':
      output.raw(input.take(4));
      return;
    case 'double':
      output.raw(input.take(8));
      return;
    case 'int':
    case 'enum':
      output.long(input.long());
      return;
    case 'long': {
      const value = input.long();
      output.long(hooks.long && siblings ? hooks.long(value, field, siblings) : value);
      return;
    }
    case 'bytes': {
      const length = input.count();
      output.long(BigInt(length));
      output.raw(input.take(length));
      return;
    }
    case 'string': {
      const text = input.take(input.count()).toString('utf8');
      const value = hooks.string ? hooks.string(text, field) : text;
      siblings?.set(field, value);
      const encoded = Buffer.from(value, 'utf8');
      output.long(BigInt(encoded.length));
      output.raw(encoded);
      return;
    }
    case 'fixed':
      output.raw(input.take(definition.size ?? 0));
      return;
    case 'record':
    case 'error': {
      const strings = new Map<string, string>();
      for (const member of definition.fields ?? []) {
        transcode(member.type, input, output, names, hooks, member.name, strings);
      }
      return;
    }
    case 'array':
    case 'map': {
      const items = type === 'array' ? definition.items : definition.values;
      if (items === undefined) throw new AvroFormatError(`${type} without its item type in field ${field}`);
      for (;;) {
        let count = input.count();
        if (count === 0) break;
        if (count < 0) {
          count = -count;
          input.count(); // the block's byte size: recomputed below by writing plain blocks
        }
        output.long(BigInt(count));
        for (let i = 0; i < count; i += 1) {
          if (type === 'map') transcode('string', input, output, names, {}, '');
          transcode(items, input, output, names, hooks, '');
        }
      }
      output.long(0n);
      return;
    }
    default: {
      const named = names.get(type);
      if (!named) throw new AvroFormatError(`unknown type ${type} in field ${field}`);
      transcode(named, input, output, names, hooks, field, siblings);
    }
  }
}

interface Header {
  readonly schema: Schema;
  readonly codec: string;
  readonly sync: Buffer;
  /** Bytes of the header, magic to sync marker included. */
  readonly length: number;
  readonly metadata: ReadonlyMap<string, Buffer>;
}

function readHeader(input: Reader, what: string): Header {
  if (!input.take(4).equals(MAGIC)) throw new AvroFormatError(`${what} is not an Avro object container file`);
  const metadata = new Map<string, Buffer>();
  for (;;) {
    let count = input.count();
    if (count === 0) break;
    if (count < 0) {
      count = -count;
      input.count();
    }
    for (let i = 0; i < count; i += 1) {
      const key = input.take(input.count()).toString('utf8');
      metadata.set(key, Buffer.from(input.take(input.count())));
    }
  }
  const sync = Buffer.from(input.take(SYNC_SIZE));
  const schemaText = metadata.get('avro.schema')?.toString('utf8');
  if (!schemaText) throw new AvroFormatError(`${what} has no avro.schema in its header`);
  const codec = metadata.get('avro.codec')?.toString('utf8') || 'null';
  if (codec !== 'null' && codec !== 'deflate') {
    throw new AvroFormatError(`${what}: Avro codec ${codec} is not supported (null and deflate are)`);
  }
  return { schema: JSON.parse(schemaText) as Schema, codec, sync, length: input.offset, metadata };
}

/** The metadata of an Avro file's header (e.g. Iceberg's `format-version`), as text. */
export function avroFileMetadata(file: Buffer, what = 'the file'): Map<string, string> {
  const header = readHeader(new Reader(file), what);
  return new Map([...header.metadata].map(([key, value]) => [key, value.toString('utf8')]));
}

/** The file with every record transcoded through `hooks`; same header, same codec, same record count. */
export function rewriteAvroFile(file: Buffer, hooks: AvroHooks, what = 'the file'): Buffer {
  const input = new Reader(file);
  const header = readHeader(input, what);
  const names: Names = new Map();
  register(header.schema, names);
  const output = new Writer();
  output.raw(file.subarray(0, header.length));
  while (!input.done) {
    const count = input.count();
    const size = input.count();
    const stored = input.take(size);
    if (!input.take(SYNC_SIZE).equals(header.sync))
      throw new AvroFormatError(`${what}: a block ends without the sync marker`);
    const block = new Reader(header.codec === 'deflate' ? inflateRawSync(stored) : stored);
    const records = new Writer();
    for (let i = 0; i < count; i += 1) transcode(header.schema, block, records, names, hooks, '');
    if (!block.done) throw new AvroFormatError(`${what}: a block holds more bytes than its ${count} records`);
    const encoded = records.bytes();
    const body = header.codec === 'deflate' ? deflateRawSync(encoded) : encoded;
    output.long(BigInt(count));
    output.long(BigInt(body.length));
    output.raw(body);
    output.raw(header.sync);
  }
  return output.bytes();
}
