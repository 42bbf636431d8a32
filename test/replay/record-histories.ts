// Records the committed replay histories: one run of each workflow on the sandbox, with
// plain (unencrypted) payloads so the replay test needs no key. Run against a sandbox:
//   node --import tsx src/cli.ts sandbox up --state-file /tmp/s.json &
//   ROTATOR_SANDBOX_STATE=/tmp/s.json npx tsx test/replay/record-histories.ts [TAG]
// With a TAG (e.g. the patch a change introduced) the files are named <name>.<TAG>.json and
// the histories recorded before stay: every version a running workflow may have started
// under keeps replaying. Never re-record an existing file to make a replay failure go away.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { toolPath } from '../../src/sandbox/tools';
import { approveUpdate, resumeUpdate, revokeNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { eventually } from '../support/kube';
import { startRotator } from '../support/rotator';
import { getStack } from '../support/stack';

async function main() {
  const stack = getStack();
  const rotator = await startRotator(stack, { grace: '1h', plainPayloads: true });
  const { client, taskQueue } = rotator;
  // The Temporal CLI's JSON export: the same format the Web UI downloads.
  const tag = process.argv[2];
  const save = async (id: string, name: string) => {
    const file = tag ? name.replace(/\.json$/, `.${tag}.json`) : name;
    const json = execFileSync(
      toolPath('temporal'),
      ['workflow', 'show', '-w', id, '--output', 'json', '--address', stack.temporal.address],
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    fs.writeFileSync(path.join(__dirname, file), json);
    console.log(`recorded ${file} (${JSON.parse(json).events.length} events)`);
  };
  try {
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

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
