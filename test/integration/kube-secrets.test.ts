import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getStack } from '../support/stack';
import { createKube, loadKubeConfig } from '../../src/kube/client';
import {
  createOrReplaceSecret,
  deleteSecret,
  readSecret,
  rotationAnnotations,
  updateSecret,
} from '../../src/kube/secrets';
import { createNamespace, deleteNamespace, randomSuffix } from '../support/kube-fixtures';
import { fingerprint } from '../../src/fingerprint';

const stack = getStack();
const kube = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
const ns = `kube-secrets-${randomSuffix()}`;

before(async () => createNamespace(kube, ns));
after(async () => deleteNamespace(kube, ns));

describe('Secrets against the apiserver', () => {
  test('create, read decoded, replace keeping foreign metadata, delete idempotently', async () => {
    assert.equal(await readSecret(kube, ns, 'zone'), null);
    const secretKey = 'k3y/with+base64=chars and ünïcode';
    const created = await createOrReplaceSecret(
      kube,
      ns,
      'zone',
      { 'access-key': 'dashi-ingest', 'secret-key': secretKey, endpoint: 'http://rustfs:9000' },
      {
        annotations: rotationAnnotations({
          at: new Date(),
          workflowId: 'wf-1',
          fingerprint: fingerprint(secretKey),
        }),
        labels: { app: 'rotator' },
      },
    );
    assert.equal(created.outcome, 'created');
    const read = await readSecret(kube, ns, 'zone');
    assert.equal(read?.data['secret-key'], secretKey);
    assert.equal(read?.annotations['rotator.rustfs.dev/fingerprint'], fingerprint(secretKey));
    assert.equal(read?.labels.app, 'rotator');

    // Someone else annotates the Secret; a replace must keep it.
    const raw = await kube.core.readNamespacedSecret({ name: 'zone', namespace: ns });
    raw.metadata!.annotations = { ...raw.metadata!.annotations, 'reloader.stakater.com/match': 'true' };
    await kube.core.replaceNamespacedSecret({ name: 'zone', namespace: ns, body: raw });

    const replaced = await createOrReplaceSecret(kube, ns, 'zone', {
      'access-key': 'dashi-ingest',
      'secret-key': 'new',
    });
    assert.equal(replaced.outcome, 'updated');
    const after = await readSecret(kube, ns, 'zone');
    assert.deepEqual(after?.data, { 'access-key': 'dashi-ingest', 'secret-key': 'new' });
    assert.equal(after?.annotations['reloader.stakater.com/match'], 'true');
    assert.equal(after?.annotations['rotator.rustfs.dev/workflow-id'], 'wf-1');

    const again = await createOrReplaceSecret(kube, ns, 'zone', {
      'access-key': 'dashi-ingest',
      'secret-key': 'new',
    });
    assert.equal(again.outcome, 'unchanged');

    await deleteSecret(kube, ns, 'zone');
    await deleteSecret(kube, ns, 'zone');
    assert.equal(await readSecret(kube, ns, 'zone'), null);
  });

  test('concurrent updates: every write lands, none is lost', async () => {
    await createOrReplaceSecret(kube, ns, 'shared', { base: '0' });
    const writers = 6;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        updateSecret(kube, ns, 'shared', (cur) => ({
          data: { ...(cur?.data ?? {}), [`writer-${i}`]: `value-${i}` },
          annotations: { [`rotator.rustfs.dev/writer-${i}`]: 'done' },
        })),
      ),
    );
    assert.ok(results.every((r) => r.outcome === 'updated'));
    assert.ok(
      results.some((r) => r.attempts > 1),
      'the writers really raced (at least one was told about a conflict and re-read)',
    );
    const final = await readSecret(kube, ns, 'shared');
    assert.equal(final?.data.base, '0');
    for (let i = 0; i < writers; i++) {
      assert.equal(final?.data[`writer-${i}`], `value-${i}`);
      assert.equal(final?.annotations[`rotator.rustfs.dev/writer-${i}`], 'done');
    }
  });

  test('two concurrent creators of a missing Secret: one creates, the other re-reads and applies on top', async () => {
    const [a, b] = await Promise.all([
      updateSecret(kube, ns, 'pending', (cur) => ({ data: { ...(cur?.data ?? {}), a: '1' } })),
      updateSecret(kube, ns, 'pending', (cur) => ({ data: { ...(cur?.data ?? {}), b: '2' } })),
    ]);
    assert.deepEqual([a.outcome, b.outcome].sort(), ['created', 'updated']);
    assert.deepEqual((await readSecret(kube, ns, 'pending'))?.data, { a: '1', b: '2' });
  });
});
