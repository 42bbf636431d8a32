// Writes docs/cli.md, the CLI reference, from the commander program src/cli.ts builds
// (buildProgram(): the Command tree only — no action runs, nothing connects). The reference is
// never edited by hand: test/unit/cli-reference.test.ts renders it again in memory and fails,
// naming the command below, when docs/cli.md differs.
//
//   npm run docs:cli            (node --import tsx scripts/cli-reference.ts)
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { type Argument, type Command, type Option } from 'commander';
import { format, resolveConfig } from 'prettier';
import { buildProgram } from '../src/cli';
import { EXIT } from '../src/cli/output';

const ROOT = path.join(__dirname, '..');
export const CLI_REFERENCE = path.join(ROOT, 'docs', 'cli.md');
export const REGENERATE = 'npm run docs:cli';

/** What each exit code means; a new code in EXIT does not compile until it is described here. */
const EXIT_MEANING: Record<keyof typeof EXIT, string> = {
  ok: 'ok',
  error: 'unexpected error',
  usage: 'bad input or usage: nothing was started',
  workflowFailed: 'the run failed, was rolled back, or refused the update',
  notFound: 'no such workflow or schedule',
  alreadyRunning: 'already running: the workflow ID (or schedule ID) is a lock',
  findings: '`audit` found drift or violations; `netpol --check`, `rbac --check`: a file is stale',
  unavailable: 'Temporal unreachable',
};

const fullName = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};
const anchor = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
const code = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);
const optionKey = (o: Option) => `${o.flags}\u0000${o.description}`;

/** Every command in help order, depth first (parents before their subcommands). */
function commandsOf(program: Command): Command[] {
  const out: Command[] = [];
  const walk = (c: Command) => {
    for (const sub of c.commands) {
      out.push(sub);
      walk(sub);
    }
  };
  walk(program);
  return out;
}

/** The text addHelpText() attached at `position` ('before' | 'after'), as commander prints it. */
function extraHelp(cmd: Command, position: 'before' | 'after'): string {
  let text = '';
  // Command is an EventEmitter at run time (its typings leave that out); addHelpText listens.
  (cmd as unknown as EventEmitter).emit(`${position}Help`, {
    error: false,
    command: cmd,
    write: (s: string) => (text += s),
  });
  return text.replace(/^\n+|\n+$/g, '');
}

function defaultOf(o: Option): string {
  if (o.defaultValueDescription) return code(o.defaultValueDescription);
  const d: unknown = o.defaultValue;
  if (d === undefined || d === false || (Array.isArray(d) && d.length === 0)) return '';
  return code(typeof d === 'string' ? d : JSON.stringify(d));
}

function optionsTable(options: readonly Option[]): string[] {
  if (options.length === 0) return [];
  const defaults = options.map(defaultOf);
  const withDefaults = defaults.some(Boolean);
  return [
    withDefaults ? '| option | description | default |' : '| option | description |',
    withDefaults ? '| --- | --- | --- |' : '| --- | --- |',
    ...options.map(
      (o, i) =>
        `| ${code(o.flags)} | ${cell(o.description ?? '')} |${withDefaults ? ` ${defaults[i]} |` : ''}`,
    ),
  ];
}

function argumentsLine(args: readonly Argument[]): string[] {
  if (args.length === 0) return [];
  const one = (a: Argument) => {
    const name = code(
      `${a.required ? '<' : '['}${a.name()}${a.variadic ? '...' : ''}${a.required ? '>' : ']'}`,
    );
    const what = [a.required ? 'required' : 'optional', a.description].filter(Boolean).join(': ');
    return `${name} (${what})`;
  };
  return [`Arguments: ${args.map(one).join('; ')}.`];
}

/**
 * The options every command that connects to Temporal shares (the ones that take `--address`),
 * listed once; `--json` is listed per command, since its meaning differs.
 */
function connectionOptions(commands: readonly Command[]): Option[] {
  const connecting = commands.filter((c) => c.options.some((o) => o.long === '--address'));
  if (connecting.length === 0) return [];
  const shared = connecting[0]!.options.filter(
    (o) =>
      o.long !== '--json' &&
      connecting.every((c) => c.options.some((other) => optionKey(other) === optionKey(o))),
  );
  return shared;
}

/** docs/cli.md as markdown, unformatted. */
export function renderCliReference(program: Command = buildProgram()): string {
  const commands = commandsOf(program);
  const connection = connectionOptions(commands);
  const connectionKeys = new Set(connection.map(optionKey));
  const takesConnection = (c: Command) =>
    connection.length > 0 && connection.every((o) => c.options.some((x) => optionKey(x) === optionKey(o)));
  const runnable = commands.filter((c) => c.commands.length === 0);
  const withJson = runnable.filter((c) => c.options.some((o) => o.long === '--json'));

  const lines: string[] = [
    '# CLI reference',
    '',
    `<!-- Generated from the commander program in src/cli.ts by scripts/cli-reference.ts: do not edit by hand. Regenerate with \`${REGENERATE}\`; test/unit/cli-reference.test.ts fails while this file is stale. -->`,
    '',
    `${program.description()}.`,
    '',
    '`rotator` is `npx tsx src/cli.ts` in a clone (or `npm run rotator --`), `bin/rotator.js` after `npm run build`, and `node dist/cli.js` in the image. How the commands fit into operating the rotator: [operating.md](operating.md).',
    '',
    '## Commands',
    '',
    '| command | what it does |',
    '| --- | --- |',
    ...runnable.map((c) => {
      const title = fullName(c);
      return `| [${code(`${title} ${c.usage()}`.trim())}](#${anchor(title)}) | ${cell(c.description())} |`;
    }),
    '',
  ];

  if (connection.length > 0) {
    lines.push(
      '## Connection options',
      '',
      `The commands that talk to Temporal take these (${runnable.filter(takesConnection).length} of ${runnable.length}: ${runnable
        .filter((c) => !takesConnection(c))
        .map((c) => code(fullName(c).replace(/^rotator /, '')))
        .join(
          ', ',
        )} do not); each says so below. The environment variables and the TLS and codec settings they fall back on: [configuring.md](configuring.md#environment).`,
      '',
      ...optionsTable(connection),
      '',
    );
  }

  lines.push(
    '## Output and exit codes',
    '',
    `${
      withJson.length === runnable.length
        ? 'Every command takes `--json`: it'
        : `With \`--json\` (every command but ${runnable
            .filter((c) => !withJson.includes(c))
            .map((c) => code(fullName(c).replace(/^rotator /, '')))
            .join(', ')}) a command`
    } prints one JSON document on stdout, and an error as \`{"error": "...", "exitCode": n}\`. Without it, errors go to stderr as \`rotator: <message>\`, never with a stack.`,
    '',
    '| exit code | meaning |',
    '| --- | --- |',
    ...Object.entries(EXIT)
      .sort(([, a], [, b]) => a - b)
      .map(([key, n]) => `| \`${n}\` | ${cell(EXIT_MEANING[key as keyof typeof EXIT])} |`),
    '',
  );

  for (const c of commands) {
    const title = fullName(c);
    lines.push(`## ${title}`, '');
    lines.push('```', `${title} ${c.usage()}`.trim(), '```', '');
    if (c.description()) lines.push(`${c.description()}.`.replace(/\.\.$/, '.'), '');
    if (c.commands.length > 0) {
      lines.push(
        `Subcommands: ${c.commands.map((s) => `[${code(s.name())}](#${anchor(fullName(s))})`).join(', ')}.`,
        '',
      );
    }
    const before = extraHelp(c, 'before');
    if (before) lines.push('```', before, '```', '');
    lines.push(...argumentsLine(c.registeredArguments));
    if (c.registeredArguments.length > 0) lines.push('');
    const own = takesConnection(c) ? c.options.filter((o) => !connectionKeys.has(optionKey(o))) : c.options;
    lines.push(...optionsTable(own));
    if (own.length > 0) lines.push('');
    if (takesConnection(c)) lines.push('Also takes the [connection options](#connection-options).', '');
    const after = extraHelp(c, 'after');
    if (after) lines.push('```', after, '```', '');
  }
  return lines.join('\n');
}

/** docs/cli.md as it must be: rendered, then formatted with the repository's prettier settings. */
export async function cliReference(program?: Command): Promise<string> {
  const config = (await resolveConfig(CLI_REFERENCE)) ?? {};
  return format(renderCliReference(program), { ...config, parser: 'markdown' });
}

async function main(): Promise<void> {
  const text = await cliReference();
  fs.mkdirSync(path.dirname(CLI_REFERENCE), { recursive: true });
  fs.writeFileSync(CLI_REFERENCE, text);
  console.log(`wrote ${path.relative(ROOT, CLI_REFERENCE)}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
