// docs/cli.md is generated from the commander program (scripts/cli-reference.ts): rendered
// again here from buildProgram(), it must be exactly the committed file, so the reference
// cannot drift from the commands, arguments and options the CLI really has.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { type Command } from 'commander';
import { buildProgram } from '../../src/cli';
import { EXIT } from '../../src/cli/output';
import { CLI_REFERENCE, cliReference, REGENERATE } from '../../scripts/cli-reference';

test('docs/cli.md is what the commander program generates', async () => {
  const expected = await cliReference(buildProgram());
  const actual = fs.existsSync(CLI_REFERENCE) ? fs.readFileSync(CLI_REFERENCE, 'utf8') : '';
  assert.ok(
    actual === expected,
    `docs/cli.md is stale: it differs from what the CLI generates. Regenerate it with \`${REGENERATE}\` and commit it.`,
  );
});

test('the reference names every command, argument and option, and every exit code', async () => {
  const program = buildProgram();
  const text = await cliReference(program);
  const walk = (c: Command): Command[] => c.commands.flatMap((s) => [s, ...walk(s)]);
  for (const cmd of walk(program)) {
    const names: string[] = [];
    for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
    assert.ok(text.includes(`## ${names.join(' ')}\n`), `a section for ${names.join(' ')}`);
    for (const a of cmd.registeredArguments)
      assert.ok(text.includes(a.name()), `${names.join(' ')} <${a.name()}>`);
    for (const o of cmd.options) assert.ok(text.includes(`\`${o.flags}\``), `${names.join(' ')} ${o.flags}`);
  }
  for (const n of Object.values(EXIT)) assert.match(text, new RegExp(`\\| \`${n}\` +\\|`), `exit code ${n}`);
});

test('a stale reference is caught: a new option changes the generated text', async () => {
  const program = buildProgram();
  const before = await cliReference(program);
  program.commands
    .find((c) => c.name() === 'status')!
    .option('--brand-new', 'an option the file does not have');
  const after = await cliReference(program);
  assert.notEqual(after, before);
  assert.match(after, /`--brand-new` +\| an option the file does not have/);
});
