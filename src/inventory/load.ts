// Reading the inventory is the first thing every command and the worker do, and a bad
// edit is most often found by on-call under pressure: every problem is reported at once,
// as `file:line:col path: expected ..., got ...`, so the fix needs no second guess.
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { type z } from 'zod';
import { closest } from './lookup';
import { inventorySchema, type Inventory } from './schema';

export { findZone, UnknownZoneError } from './lookup';

export interface InventoryIssue {
  /** The file as named by the caller (what on-call passed to --config). */
  file: string;
  /** Where in the document, like `zones[1].policy.readWrite[0]`; '' for the whole file. */
  path: string;
  segments: Array<string | number>;
  /** What was expected, and what was found when that helps. */
  message: string;
  /** 1-based position in the file, when the problem can be pinned to a node. */
  line?: number;
  column?: number;
}

export class InventoryError extends Error {
  override readonly name = 'InventoryError';
  constructor(
    readonly file: string,
    readonly issues: InventoryIssue[],
  ) {
    const n = issues.length;
    super(
      `Invalid rotator inventory ${file} (${n} problem${n === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${formatIssue(i)}`).join('\n'),
    );
  }
}

export function formatIssue(issue: InventoryIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  return `${where}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

export async function loadInventory(path: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InventoryError(path, [
      {
        file: path,
        path: '',
        segments: [],
        message: `cannot read the inventory file (${reason}); pass its path with --config or ROTATOR_CONFIG`,
      },
    ]);
  }
  return parseInventory(text, path);
}

export function parseInventory(text: string, sourceName: string): Inventory {
  const lineCounter = new LineCounter();
  // uniqueKeys: a key written twice silently wins the last value in plain YAML; here it is an error.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length) {
    throw new InventoryError(
      sourceName,
      doc.errors.map((err) => ({
        file: sourceName,
        path: '',
        segments: [],
        message: `YAML syntax error: ${yamlMessage(err.message)}`,
        line: err.linePos?.[0].line,
        column: err.linePos?.[0].col,
      })),
    );
  }
  if (doc.contents === null) {
    throw new InventoryError(sourceName, [
      {
        file: sourceName,
        path: '',
        segments: [],
        message: 'expected a mapping with store and zones, but the file is empty',
      },
    ]);
  }
  const result = inventorySchema.safeParse(doc.toJS({ maxAliasCount: 100 }), {
    reportInput: true,
    error: fallbackMessage,
  });
  if (result.success) return result.data;

  const raw: RawIssue[] = [];
  collect(result.error.issues, [], raw);
  const issues = raw.map((r) => locate(r, doc, lineCounter, sourceName));
  issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
  throw new InventoryError(sourceName, issues);
}

// ---------------------------------------------------------------------------------------

interface RawIssue {
  segments: Array<string | number>;
  message: string;
  /** Point at the key itself (unknown fields) rather than its value. */
  atKey?: boolean;
}

type Issue = z.core.$ZodIssue;

function collect(issues: readonly Issue[], base: Array<string | number>, out: RawIssue[]): void {
  for (const iss of issues) {
    const segments = [...base, ...iss.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    switch (iss.code) {
      case 'invalid_union': {
        // A union fails in every branch; the useful report is the branch the author was
        // clearly writing (the one that got past the type check), not "invalid input".
        const deep = iss.errors.filter((branch) => !branch.every(isShallow));
        const [only] = deep;
        if (deep.length === 1 && only) collect(only, segments, out);
        else out.push({ segments, message: withInput(iss.message, iss) });
        break;
      }
      case 'unrecognized_keys': {
        const allowed = allowedKeysAt(segments);
        for (const key of iss.keys) {
          const hint = closest(key, allowed);
          out.push({
            segments: [...segments, key],
            atKey: true,
            message:
              `unknown field "${key}"` +
              (hint ? ` (did you mean "${hint}"?)` : '') +
              (allowed.length ? `; expected one of: ${allowed.join(', ')}` : ''),
          });
        }
        break;
      }
      case 'invalid_value': {
        const options = iss.values.filter((v): v is string => typeof v === 'string');
        const hint = typeof iss.input === 'string' ? closest(iss.input, options) : undefined;
        out.push({
          segments,
          message: withInput(iss.message, iss) + (hint ? ` (did you mean "${hint}"?)` : ''),
        });
        break;
      }
      case 'custom':
        // Cross-field checks carry the whole object as input and explain themselves;
        // leaf refinements (a string that fails a rule) get the offending value appended.
        out.push({ segments, message: isPrimitive(iss.input) ? withInput(iss.message, iss) : iss.message });
        break;
      default:
        out.push({ segments, message: withInput(iss.message, iss) });
    }
  }
}

function isShallow(iss: Issue): boolean {
  return iss.path.length === 0 && (iss.code === 'invalid_type' || iss.code === 'invalid_value');
}

function isPrimitive(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function withInput(message: string, iss: Issue): string {
  if (!('input' in iss) || iss.input === undefined) {
    return iss.code === 'invalid_type' ? `${message}, but it is missing` : message;
  }
  return `${message}, got ${describe(iss.input)}`;
}

function describe(value: unknown): string {
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return value.length ? `a list of ${value.length}` : 'an empty list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

// Only used where a schema has no message of its own (mostly inside raw IAM statements).
function fallbackMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}`;
    case 'invalid_value':
      return `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      if (iss.origin === 'string')
        return iss.minimum === 1
          ? 'expected a non-empty string'
          : `expected at least ${iss.minimum} characters`;
      if (iss.origin === 'array')
        return `expected at least ${iss.minimum} item${iss.minimum === 1 ? '' : 's'}`;
      return undefined;
    case 'too_big':
      if (iss.origin === 'string') return `expected at most ${iss.maximum} characters`;
      if (iss.origin === 'array') return `expected at most ${iss.maximum} items`;
      return undefined;
    default:
      return undefined;
  }
}

// yaml's pretty messages repeat the position we already print; keep the text and the snippet.
function yamlMessage(message: string): string {
  const [first = '', ...rest] = message.split('\n');
  const snippet = rest.filter((l) => l.trim() !== '');
  const head = first.replace(/ at line \d+, column \d+:?$/, '');
  return snippet.length ? `${head}\n${snippet.map((l) => `      ${l}`).join('\n')}` : head;
}

// ---------------------------------------------------------------------------------------
// Mapping a zod path back to the YAML source and the schema

function locate(raw: RawIssue, doc: Document, lc: LineCounter, file: string): InventoryIssue {
  const issue: InventoryIssue = {
    file,
    path: formatPath(raw.segments),
    segments: raw.segments,
    message: raw.message,
  };
  const offset = offsetOf(doc, raw.segments, raw.atKey ?? false);
  if (offset !== undefined) {
    const pos = lc.linePos(offset);
    issue.line = pos.line;
    issue.column = pos.col;
  }
  return issue;
}

function offsetOf(doc: Document, segments: Array<string | number>, atKey: boolean): number | undefined {
  if (atKey && segments.length) {
    const parent = doc.getIn(segments.slice(0, -1), true);
    const key = segments[segments.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0];
    }
  }
  // A missing field has no node: point at the closest enclosing one that exists.
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return node.range[0];
  }
  return undefined;
}

export function formatPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  innerType?: unknown;
  in?: unknown;
  options?: unknown[];
  valueType?: unknown;
}
const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } })._zod?.def;

function unwrap(schema: unknown): unknown[] {
  const def = defOf(schema);
  if (!def) return [];
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe') return unwrap(def.in);
  if (def.type === 'union') return (def.options ?? []).flatMap(unwrap);
  return [schema];
}

// The schema knows which keys are legal at a path; asking it keeps did-you-mean in step
// with the schema instead of a second hand-maintained list.
function allowedKeysAt(segments: ReadonlyArray<string | number>): string[] {
  let current = unwrap(inventorySchema);
  for (const seg of segments) {
    current = current.flatMap((s) => {
      const def = defOf(s);
      if (def?.type === 'object' && typeof seg === 'string' && def.shape?.[seg])
        return unwrap(def.shape[seg]);
      if (def?.type === 'array' && typeof seg === 'number') return unwrap(def.element);
      if (def?.type === 'record') return unwrap(def.valueType);
      return [];
    });
  }
  return [...new Set(current.flatMap((s) => Object.keys(defOf(s)?.shape ?? {})))];
}
