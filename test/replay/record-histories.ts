// Records the committed replay histories: one run of each workflow on the sandbox, with
// plain (unencrypted) payloads so the replay test needs no key. Run against a sandbox:
//   node --import tsx src/cli.ts sandbox up --state-file /tmp/s.json &
//   ROTATOR_SANDBOX_STATE=/tmp/s.json npx tsx test/replay/record-histories.ts [TAG] [--undo]
// --decisions records runs whose decisions Kubernetes authorizes (approvals.authority
// kubernetes, deploy/approvals/ installed under a prefix): a RotateRoot refused an approval by
// its requester, approved by another identity, paused and resumed; a RotateZone revoked early.
// --undo records the compensation and cancel paths instead (after a bootstrap): a paused root
// rotation rolled back on request and one cancelled, a zone rotation cancelled in its grace
// wait, and one whose consumer never rolls out (its undo fails, the pending record is kept).
// With a TAG (e.g. the patch a change introduced) the files are named <name>.<TAG>.json and
// the histories recorded before stay: every version a running workflow may have started
// under keeps replaying. Never re-record an existing file to make a replay failure go away.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { toolPath } from '../../src/sandbox/tools';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { NEVER_READY_ANNOTATION } from '../../src/sandbox/kwok-stages';
import {
  approveUpdate,
  resumeUpdate,
  revokeNowUpdate,
  rollbackUpdate,
  statusQuery,
} from '../../src/workflows/definitions';
import { ROOT_TARGET, zoneTarget, type DecisionAction } from '../../src/approvals/decisions';
import { createDecision } from '../../src/kube/decisions';
import { randomSuffix } from '../support/kube-fixtures';
import { installApprovals } from '../support/approvals';
import { adminKube, eventually } from '../support/kube';
import { startRotator } from '../support/rotator';
import { getStack } from '../support/stack';
import { eraTag, writeHistory } from './history-files';

async function main() {
  const stack = getStack();
  if (process.argv.includes('--decisions')) return recordDecisions(stack);
  const rotator = await startRotator(stack, { grace: '1h', plainPayloads: true });
  const { client, taskQueue } = rotator;
  // The Temporal CLI's JSON export: the same format the Web UI downloads.
  const tag = eraTag();
  const save = async (id: string, name: string) => {
    const json = execFileSync(
      toolPath('temporal'),
      ['workflow', 'show', '-w', id, '--output', 'json', '--address', stack.temporal.address],
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const file = writeHistory(name.replace(/\.json$/, ''), tag, json);
    console.log(`recorded ${file} (${JSON.parse(json).events.length} events)`);
  };
  try {
    if (process.argv.includes('--undo')) {
      await recordUndoPaths(stack, client, taskQueue, save);
      return;
    }
    await client.workflow.execute('BootstrapCluster', {
      taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    await save('bootstrap-cluster', 'bootstrap-cluster.json');
    const rotateAll = await client.workflow.start('BootstrapCluster', {
      taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{ rotate: true, parallelism: 2 }],
    });
    // The children wait out the 1h grace: end each wait as it begins.
    for (const z of ['ingest', 'pipeline', 'serving']) {
      const child = client.workflow.getHandle(`rotate-zone-${z}`);
      await eventually(
        `grace of ${z}`,
        async () => (await child.query(statusQuery).catch(() => undefined))?.phase === 'waiting-grace',
        120_000,
      );
      await child.executeUpdate(revokeNowUpdate, { args: [{ by: 'recorder' }] });
    }
    await rotateAll.result();
    await save('bootstrap-cluster', 'bootstrap-cluster-rotate.json');

    const zone = await client.workflow.start('RotateZone', {
      taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving' }],
    });
    await eventually('grace', async () => (await zone.query(statusQuery)).phase === 'waiting-grace', 120_000);
    await zone.executeUpdate(revokeNowUpdate, { args: [{ by: 'recorder' }] });
    await zone.result();
    await save('rotate-zone-serving', 'rotate-zone-overlap.json');

    await fetch(`${stack.agent.url}/behaviour`, {
      method: 'POST',
      body: JSON.stringify({ delayMs: 5000, delayCount: 1 }),
    });
    const root = await client.workflow.start('RotateRoot', {
      taskQueue,
      workflowId: 'rotate-root',
      args: [{ restartTimeout: '3s' }],
    });
    await eventually('approval', async () => (await root.query(statusQuery)).phase === 'awaiting-approval');
    await root.executeUpdate(approveUpdate, { args: [{ by: 'recorder' }] });
    await eventually('pause', async () => (await root.query(statusQuery)).phase === 'paused', 60_000);
    await root.executeUpdate(resumeUpdate, { args: [{ by: 'recorder' }] });
    await root.result();
    await save('rotate-root', 'rotate-root-pause-resume.json');
  } finally {
    await rotator.close();
  }
}

type Rotator = Awaited<ReturnType<typeof startRotator>>;

async function recordDecisions(stack: ReturnType<typeof getStack>) {
  const tag = eraTag();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'record-decisions-'));
  const approvals = await installApprovals(stack, `record-${randomSuffix()}`, dir);
  const rotator = await startRotator(stack, {
    grace: '1h',
    plainPayloads: true,
    approvals: { authority: 'kubernetes', namespace: approvals.namespace },
  });
  const { client, taskQueue } = rotator;
  const save = (id: string, name: string) => {
    const json = execFileSync(
      toolPath('temporal'),
      ['workflow', 'show', '-w', id, '--output', 'json', '--address', stack.temporal.address],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const file = writeHistory(name.replace(/\.json$/, ''), tag, json);
    console.log(`recorded ${file} (${JSON.parse(json).events.length} events)`);
  };
  const phase = (id: string, want: string) =>
    eventually(
      `${id} in ${want}`,
      async () => (await client.workflow.getHandle(id).query(statusQuery)).phase === want,
      120_000,
    );
  try {
    // The root rotation re-ensures every zone, the zone rotation rotates one: the zones must exist.
    await client.workflow.execute('BootstrapCluster', {
      taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    const alice = await approvals.person('alice', ['requester', 'approver', 'revoker']);
    const bob = await approvals.person('bob', ['approver']);
    const decide = async (
      who: typeof alice,
      workflowId: string,
      runId: string,
      action: DecisionAction,
      target: string,
    ) => {
      for (let i = 0; ; i++) {
        try {
          return await createDecision(who.kube, approvals.namespace, {
            workflowId,
            runId,
            action,
            target,
            user: who.user,
          });
        } catch (err) {
          if (i > 60) throw err; // RBAC just bound: a moment until the authorizer sees it
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    };
    await fetch(`${stack.agent.url}/behaviour`, {
      method: 'POST',
      body: JSON.stringify({ delayMs: 5000, delayCount: 1 }),
    });
    const root = await client.workflow.start('RotateRoot', {
      taskQueue,
      workflowId: 'rotate-root',
      args: [{ restartTimeout: '3s' }],
    });
    const runId = root.firstExecutionRunId;
    await decide(alice, 'rotate-root', runId, 'request', ROOT_TARGET);
    await phase('rotate-root', 'awaiting-approval');
    await decide(alice, 'rotate-root', runId, 'approve', ROOT_TARGET);
    await root.executeUpdate(approveUpdate, { args: [{ by: 'recorder' }] }).then(
      () => {
        throw new Error("the requester's own approval was accepted");
      },
      () => undefined,
    );
    await decide(bob, 'rotate-root', runId, 'approve', ROOT_TARGET);
    await root.executeUpdate(approveUpdate, { args: [{ by: 'recorder' }] });
    await phase('rotate-root', 'paused');
    // Resume once the delayed store runs again, so the second window sees it back.
    await eventually(
      'store started after its delay',
      async () => {
        const state = (await (await fetch(`${stack.agent.url}/state`)).json()) as {
          nodes: { ready: boolean }[];
        };
        return state.nodes.every((n) => n.ready);
      },
      60_000,
    );
    await decide(bob, 'rotate-root', runId, 'resume', ROOT_TARGET);
    await root.executeUpdate(resumeUpdate, { args: [{ by: 'recorder' }] });
    await root.result();
    save('rotate-root', 'rotate-root-decisions.json');

    const zone = await client.workflow.start('RotateZone', {
      taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving' }],
    });
    await phase('rotate-zone-serving', 'waiting-grace');
    await decide(alice, 'rotate-zone-serving', zone.firstExecutionRunId, 'revoke-now', zoneTarget('serving'));
    await zone.executeUpdate(revokeNowUpdate, { args: [{ by: 'recorder' }] });
    await zone.result();
    save('rotate-zone-serving', 'rotate-zone-decisions.json');
  } finally {
    await rotator.close();
    await approvals.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function recordUndoPaths(
  stack: ReturnType<typeof getStack>,
  client: Rotator['client'],
  taskQueue: string,
  save: (id: string, name: string) => Promise<void>,
) {
  const phase = async (id: string, want: string) =>
    eventually(
      `${id} in ${want}`,
      async () => (await client.workflow.getHandle(id).query(statusQuery)).phase === want,
      120_000,
    );
  const ended = (id: string) =>
    client.workflow
      .getHandle(id)
      .result()
      .then(
        () => 'completed',
        (err: Error & { cause?: Error }) =>
          `${err.cause?.name ?? err.name}: ${err.cause?.message ?? err.message}`,
      );
  const agent = (body: object) =>
    fetch(`${stack.agent.url}/behaviour`, { method: 'POST', body: JSON.stringify(body) });
  await client.workflow.execute('BootstrapCluster', {
    taskQueue,
    workflowId: 'bootstrap-cluster',
    args: [{}],
  });

  for (const end of ['rollback', 'cancel'] as const) {
    await agent({ delayMs: 5000, delayCount: 1 });
    const root = await client.workflow.start('RotateRoot', {
      taskQueue,
      workflowId: 'rotate-root',
      args: [{ approve: true, restartTimeout: '3s', pauseTimeout: '10m' }],
    });
    await phase('rotate-root', 'paused');
    if (end === 'rollback') await root.executeUpdate(rollbackUpdate, { args: [{ by: 'recorder' }] });
    else await root.cancel();
    console.log(`rotate-root ${end}: ${await ended('rotate-root')}`);
    await save('rotate-root', `rotate-root-pause-${end}.json`);
  }

  const zone = await client.workflow.start('RotateZone', {
    taskQueue,
    workflowId: 'rotate-zone-serving',
    args: [{ zone: 'serving' }],
  });
  await phase('rotate-zone-serving', 'waiting-grace');
  await zone.cancel();
  console.log(`rotate-zone cancel in grace: ${await ended('rotate-zone-serving')}`);
  await save('rotate-zone-serving', 'rotate-zone-grace-cancel.json');

  // A consumer whose new pods never become Ready: the rollout fails, and so does the undo's.
  const { apps } = adminKube(stack);
  const titiler = { name: 'titiler', namespace: 'dashi-serving' };
  const patch = (body: object) =>
    apps.patchNamespacedDeployment(
      { ...titiler, body },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  await patch({
    spec: {
      progressDeadlineSeconds: 2,
      template: { metadata: { annotations: { [NEVER_READY_ANNOTATION]: 'true' } } },
    },
  });
  try {
    await client.workflow.start('RotateZone', {
      taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving' }],
    });
    console.log(`rotate-zone stuck rollout: ${await ended('rotate-zone-serving')}`);
    await save('rotate-zone-serving', 'rotate-zone-undo-failed.json');
  } finally {
    await apps.patchNamespacedDeployment(
      {
        ...titiler,
        body: [
          {
            op: 'remove',
            path: `/spec/template/metadata/annotations/${NEVER_READY_ANNOTATION.replace('/', '~1')}`,
          },
          { op: 'replace', path: '/spec/progressDeadlineSeconds', value: 600 },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
