// A zone's smoke, and the revocation of its previous key, on the sandbox's 4-node store ask
// every serving node directly (store.nodeEndpoints): RustFS tells its peers of an IAM write
// without waiting for them, so the node behind the Service may not hold a zone's policy yet when
// the write returns (seen on alpha.85: "put landing: expected allow, got deny" right after
// BootstrapCluster's writes), nor have dropped a removed key. A node whose pod is down is
// skipped: the Service sends it nothing, and it loads IAM from the store when it starts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { loadInventory } from '../../src/inventory';
import { sandboxInventory } from '../../src/sandbox/inventory';
import { PLATFORM } from '../../src/sandbox/platform';
import { buildDeps, storeConnection } from '../../src/worker/build';
import { createS3, isAdminError, type Credentials } from '../../src/rustfs';
import { adminKube, eventually, readSecretData } from '../support/kube';
import { creds } from '../support/store';
import { startRotator, type Rotator } from '../support/rotator';
import { getStack } from '../support/stack';
import { storeNodes } from '../support/store-nodes';

const stack = getStack();
const store = storeNodes(stack);
const ZONE = 'serving';

describe('a zone on a 4-node store', () => {
  let rotator: Rotator;
  let acts: ReturnType<typeof createActivities>;
  let client: Client;
  let dir: string;

  before(async () => {
    assert.equal(store.nodes.length, 4, 'needs the 4-node sandbox (ROTATOR_STORE_NODES=4)');
    rotator = await startRotator(stack, { grace: '0s' });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: `bootstrap-cluster-zone-smoke-${process.pid}`,
      args: [{}],
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-zone-smoke-'));
    const file = path.join(dir, 'inventory.yaml');
    fs.writeFileSync(file, sandboxInventory(stack));
    const inventory = await loadInventory(file);
    client = new Client({
      connection: await Connection.connect({ address: stack.temporal.address }),
      namespace: stack.temporal.namespace,
    });
    acts = createActivities(
      buildDeps({
        inventory,
        kube: { kubeconfig: stack.kube.kubeconfig },
        store: storeConnection(inventory),
        client,
        namespace: stack.temporal.namespace,
      }),
    );
  });
  after(async () => {
    await store.agent.reset().catch(() => undefined);
    await client?.connection.close();
    await rotator?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every node is asked, each by its own endpoint', async () => {
    const report = await acts.smokeZone(ZONE, 'current');
    assert.deepEqual(
      report.nodes,
      store.nodes.map((n) => n.pod),
    );
    assert.deepEqual(report.skipped, []);
    assert.equal(report.passed, report.cells);
    assert.ok(report.cells > 0);
  });

  test('a node whose pod is down is skipped, the others still asked', async () => {
    const { core } = adminKube(stack);
    await store.agent.hold();
    const down = store.nodes[1]!.pod;
    await core.deleteNamespacedPod({ name: down, namespace: PLATFORM.namespace });
    const held = await store.agent.held(120_000);
    assert.equal(held.pod, down);
    try {
      const report = await acts.smokeZone(ZONE, 'current');
      assert.deepEqual(report.skipped, [down]);
      assert.deepEqual(
        report.nodes,
        store.nodes.map((n) => n.pod).filter((p) => p !== down),
      );
      assert.equal(report.passed, report.cells);
    } finally {
      await store.agent.release();
      await eventually(
        `${down} serving again`,
        async () => ((await store.agent.state()).nodes.find((n) => n.pod === down)?.ready ? true : undefined),
        120_000,
      );
    }
  });

  test('RotateZone: the previous key is refused by every node, each asked directly, when the run ends', async () => {
    const secret = () => readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving').then(creds);
    const previous = await secret();
    const result = (await rotator.client.workflow.execute('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: `rotate-zone-every-node-${process.pid}`,
      args: [{ zone: ZONE, grace: '0s' }],
    })) as { outcome: string; zones: Array<{ revoked: string }> };
    assert.equal(result.outcome, 'completed');
    const pods = store.nodes.map((n) => n.pod);
    assert.match(
      result.zones[0]!.revoked,
      new RegExp(`refused by every serving node \\(${pods.join(', ')}\\)`),
    );
    const current = await secret();
    assert.notEqual(current.accessKey, previous.accessKey);
    const answer = async (endpoint: string, c: Credentials): Promise<string> => {
      const s3 = createS3({ endpoint, credentials: c, maxAttempts: 1 });
      try {
        await s3.listObjects('curated');
        return 'accepted';
      } catch (err) {
        return isAdminError(err, 'AccessDenied') ? 'accepted' : isAdminError(err) ? err.code : String(err);
      } finally {
        s3.close();
      }
    };
    for (const n of store.nodes) {
      assert.equal(
        await answer(n.endpoint, previous),
        'AuthenticationFailed',
        `${n.pod} with the previous key`,
      );
      assert.equal(await answer(n.endpoint, current), 'accepted', `${n.pod} with the new key`);
    }
  });
});
