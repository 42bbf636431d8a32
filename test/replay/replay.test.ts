import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { replayWorkflowCode } from '../support/build';

// Committed histories of real runs, replayed against today's workflow code: a change that
// alters the sequence of commands for an already-recorded run fails here, before it can
// break workflows running in production (use patched() for intended changes).
test('committed histories of every workflow replay deterministically', async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.json'));
  const types = new Set<string>();
  const histories = files.map((file) => {
    const json = JSON.parse(fs.readFileSync(path.join(__dirname, file), 'utf8'));
    const history = historyFromJSON(json);
    types.add(String(history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name));
    return { workflowId: file.replace(/\.json$/, ''), history };
  });
  assert.deepEqual(
    [...types].sort(),
    ['BootstrapCluster', 'RotateRoot', 'RotateZone'],
    'a history for each workflow',
  );
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    {
      ...replayWorkflowCode(),
      replayName: 'committed-histories',
    },
    histories,
  )) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${result.error?.message}`);
    replayed += 1;
  }
  assert.equal(replayed, files.length);
});

// The replay above must be able to fail: a history in which a step the workflow takes was
// recorded under another name (rotate-zone-overlap.json with its describeZoneSecret activity
// renamed readZoneSecret) is a run this code never made, and replaying it is refused.
test('a history this code did not make fails to replay', async () => {
  const file = path.join(__dirname, 'broken', 'rotate-zone-overlap.step-renamed.json');
  const history = historyFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
  await assert.rejects(
    Worker.runReplayHistory(replayWorkflowCode(), history, 'rotate-zone-overlap.step-renamed'),
    (err: unknown) =>
      err instanceof DeterminismViolationError && /readZoneSecret|describeZoneSecret/.test(err.message),
  );
});
