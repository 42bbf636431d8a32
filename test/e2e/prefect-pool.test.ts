// Prefect work pools as consumers, against the sandbox's real Prefect server (its own SQLite
// database) and Kubernetes: BootstrapCluster installs the zone Secret into the pool's base
// job template by secretKeyRef, a flow-run Job made from that template holds the previous
// key through a rotation until it ends, and a removed or overwritten injection is reported
// by audit, refused or re-installed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { runState } from '../../src/activities/temporal';
import { secretUseByNamespace, type WorkloadUse } from '../../src/audit/by-namespace';
import { runAudit, type AuditReport } from '../../src/audit/report';
import { ZONE_CLIENT_LABEL } from '../../src/inventory';
import { rootCause } from '../../src/cli/render';
import { createPrefectClient } from '../../src/prefect/client';
import { injectionEntries, POOL_ENV } from '../../src/prefect/template';
import { SEED_POOL } from '../../src/sandbox/sandbox';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { adminKube, eventually, readSecretData, uniqueName } from '../support/kube';
import {
  assertNoSecretsInHistory,
  collectSecretValues,
  startRotator,
  type Rotator,
} from '../support/rotator';
import { getStack } from '../support/stack';
import { canList, creds } from '../support/store';

const stack = getStack();
const prefect = createPrefectClient(new Map([[stack.prefect.api, { authString: stack.prefect.authString }]]));
const api = stack.prefect.api;
const SECRET = 'dashi-rustfs-pipeline';
const NAMESPACE = 'dashi-data';
let rotator: Rotator;
const secrets = new Set<string>();
const workflowIds: string[] = [];

type Template = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const containerOf = (t: Template) => t.job_configuration.job_manifest.spec.template.spec.containers[0];

async function bootstrap(): Promise<WorkflowResult> {
  const workflowId = uniqueName('bootstrap-prefect');
  workflowIds.push(workflowId);
  return rotator.client.workflow.execute('BootstrapCluster', {
    taskQueue: rotator.taskQueue,
    workflowId,
    args: [{}],
  });
}

const readTemplate = async () => (await prefect.readPool(api, SEED_POOL)).base_job_template as Template;

async function audit(): Promise<AuditReport> {
  return runAudit(
    rotator.inventory,
    rotator.deps.kube,
    stack.store.endpoint,
    (ref) => runState(rotator.client, ref),
    prefect,
  );
}
/** The work pool's row in `rotator audit --by-namespace`'s view of the pipeline Secret's namespace. */
async function poolUse(): Promise<WorkloadUse> {
  const view = await secretUseByNamespace(rotator.inventory, rotator.deps.kube, prefect, [NAMESPACE]);
  const row = view[0]!.workloads.find((w) => w.workload === `WorkPool/${SEED_POOL}`);
  assert.ok(row, `WorkPool/${SEED_POOL} in the by-namespace view of ${NAMESPACE}`);
  return row;
}
const poolFindings = (r: AuditReport) =>
  r.findings.filter((f) => f.subject.startsWith(`work pool ${SEED_POOL}`));

/** What Prefect's kubernetes worker makes of the template for a flow run: placeholders filled, unset ones dropped. */
function flowRunJob(template: Template, values: Record<string, unknown>): V1Job {
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = /^\{\{ (\w+) \}\}$/.exec(v);
      if (m) return values[m[1]!];
      return v.replace(/\{\{ (\w+) \}\}/g, (_, k: string) => String(values[k] ?? ''));
    }
    if (Array.isArray(v)) return v.map(fill).filter((x) => x !== undefined);
    if (v && typeof v === 'object') {
      const out = Object.entries(v)
        .map(([k, x]) => [k, fill(x)] as const)
        .filter(
          ([, x]) =>
            x !== undefined && !(typeof x === 'object' && x && !Array.isArray(x) && !Object.keys(x).length),
        );
      return Object.fromEntries(out);
    }
    return v;
  };
  const manifest = fill(structuredClone(template.job_configuration.job_manifest)) as V1Job;
  // The worker puts the flow run's own variables before the template's literal env list.
  const c = manifest.spec!.template.spec!.containers[0]!;
  c.env = [{ name: 'PREFECT__FLOW_RUN_ID', value: 'e2e' }, ...(c.env ?? [])];
  return manifest;
}

describe('Prefect work pools against the real Prefect server', () => {
  before(async () => {
    rotator = await startRotator(stack, { grace: '2s' });
    assert.deepEqual(
      rotator.inventory.zones.find((z) => z.name === 'pipeline')!.workPools,
      [{ api, pool: SEED_POOL }],
      "the sandbox inventory points the pipeline zone's pool at the sandbox's Prefect",
    );
  });
  after(async () => {
    // Later suites bootstrap the pipeline zone: its pool must exist.
    await prefect
      .readPool(api, SEED_POOL)
      .catch(async () =>
        prefect.createPool(api, SEED_POOL, 'kubernetes', await prefect.defaultTemplate(api, 'kubernetes')),
      );
    await rotator?.close();
  });

  test("a pool recreated through Prefect's API gets the secretKeyRef injection from BootstrapCluster; the rest of its template is kept", async () => {
    // Prefect's database recreated: the pool comes back with the default kubernetes template.
    await prefect.deletePool(api, SEED_POOL).catch(() => undefined);
    const original = (await prefect.defaultTemplate(api, 'kubernetes')) as Template;
    original.variables.properties.image.default = 'dashi/ingest:e2e';
    original.job_configuration.job_manifest.metadata.labels = { team: 'dashi', run: '{{ name }}' };
    await prefect.createPool(api, SEED_POOL, 'kubernetes', original);
    assert.equal(containerOf(await readTemplate()).env, '{{ env }}', 'created without any injection');
    assert.match(
      poolFindings(await audit())
        .map((f) => f.message)
        .join('\n'),
      /env AWS_SECRET_ACCESS_KEY missing/,
      'audit sees the pool without the injection',
    );

    const result = await bootstrap();
    assert.equal(result.outcome, 'completed');
    const after = await readTemplate();
    assert.deepEqual(containerOf(after).env, injectionEntries(SECRET));
    for (const e of containerOf(after).env) assert.equal(e.value, undefined, 'never a literal value');
    const expected = structuredClone(original);
    containerOf(expected).env = injectionEntries(SECRET);
    // config/dashi.yaml applies NetworkPolicies: flow-run pods carry the zone label that admits them.
    assert.ok(rotator.inventory.networkPolicies?.apply);
    expected.job_configuration.job_manifest.spec.template.metadata = {
      labels: { [ZONE_CLIENT_LABEL]: 'pipeline' },
    };
    assert.deepEqual(after, expected, 'every other part of the template is as it was');
    assert.deepEqual(poolFindings(await audit()), []);
    const use = await poolUse();
    assert.deepEqual(
      use.secrets.map((x) => [x.secret, x.managed, x.via.map((v) => v.split('/').pop()).sort()]),
      [[SECRET, 'zone pipeline', Object.keys(POOL_ENV).sort()]],
      'by-namespace: the template reads the zone Secret through the three injected variables',
    );
    assert.deepEqual(use.literals, []);

    // Re-running finds it in place and writes nothing.
    const before = (await prefect.readPool(api, SEED_POOL)) as unknown as { updated: string };
    await bootstrap();
    assert.equal(
      ((await prefect.readPool(api, SEED_POOL)) as unknown as { updated: string }).updated,
      before.updated,
    );
  });

  test('a flow-run Job pod made from the template holds the previous key until it ends; plan and status name the pool', async () => {
    const plan = await rotator.client.workflow.execute('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: uniqueName('plan-pipeline'),
      args: [{ zone: 'pipeline', dryRun: true }],
    });
    assert.match(
      plan.plan!.notes.join('\n'),
      new RegExp(
        `work pool ${SEED_POOL} \\(.*\\): each flow run starts a new pod from the base job template.*runs in flight finish with the previous key`,
      ),
    );

    const { core } = adminKube(stack);
    const batch = adminKube(stack).kc.makeApiClient(BatchV1Api);
    const previous = creds(await readSecretData(stack, NAMESPACE, SECRET));
    const name = uniqueName('flow-run');
    const job = flowRunJob(await readTemplate(), {
      name,
      namespace: NAMESPACE,
      image: 'prefect/flow:sandbox',
      command: ['prefect', 'flow-run', 'execute'],
      labels: { 'prefect.io/flow-run-name': name },
    });
    assert.deepEqual(
      job.spec!.template.spec!.containers[0]!.env!.filter((e) => e.name in POOL_ENV),
      injectionEntries(SECRET),
    );
    const created = await batch.createNamespacedJob({ namespace: NAMESPACE, body: job });
    const jobName = created.metadata!.name!;
    await eventually('the flow-run pod to run', async () => {
      const pods = await core.listNamespacedPod({
        namespace: NAMESPACE,
        labelSelector: `job-name=${jobName}`,
      });
      return pods.items.some((p) => p.status?.phase === 'Running');
    });
    const [data] = await secretUseByNamespace(rotator.inventory, rotator.deps.kube, prefect, [NAMESPACE]);
    assert.deepEqual(
      data!.workloads.find((w) => w.workload === `Job/${jobName}`)?.secrets.map((x) => [x.secret, x.managed]),
      [[SECRET, 'zone pipeline']],
      'by-namespace lists the flow-run Job with the Secret its template gave it',
    );
    await new Promise((r) => setTimeout(r, 1100)); // start times have one-second resolution
    const workflowId = 'rotate-zone-pipeline';
    workflowIds.push(workflowId);
    const handle = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId,
      args: [{ zone: 'pipeline', grace: '1s' }],
    });
    try {
      const waiting = await eventually(
        'the wait on the flow-run pod',
        async () => {
          const s = await handle.query(statusQuery);
          if (s.phase === 'failed' || s.phase === 'completed')
            throw new Error(`unexpected ${s.phase}: ${s.lastError}`);
          return s.pauseReason?.includes(`${jobName}-`) ? s : undefined;
        },
        60_000,
      );
      assert.match(
        waiting.pauseReason!,
        new RegExp(`started before the switch still run: ${jobName}-\\w+ \\(Job/${jobName}\\)`),
      );
      assert.match(
        waiting.workPools!.join('\n'),
        new RegExp(`work pool ${SEED_POOL} .*secretKeyRef at pod admission`),
      );
      const now = creds(await readSecretData(stack, NAMESPACE, SECRET));
      assert.notEqual(
        now.accessKey,
        previous.accessKey,
        'the Secret, and so the next flow run, has the new key',
      );
      assert.equal(await canList(stack, previous, 'landing'), true, 'the run in flight keeps a working key');
    } finally {
      await batch.deleteNamespacedJob({
        name: jobName,
        namespace: NAMESPACE,
        propagationPolicy: 'Foreground',
      });
    }
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    assert.equal(
      await canList(stack, previous, 'landing'),
      'AuthenticationFailed',
      'revoked once the pod is gone',
    );
  });

  test("an injection removed through Prefect's API is reported by audit and re-installed; a literal key is refused, naming pool and entry", async () => {
    const injected = await readTemplate();
    const removed = structuredClone(injected);
    containerOf(removed).env = containerOf(removed).env.filter(
      (e: { name: string }) => e.name !== 'AWS_SECRET_ACCESS_KEY',
    );
    await prefect.writeTemplate(api, SEED_POOL, removed);
    const drift = poolFindings(await audit());
    assert.deepEqual(
      drift.map((f) => [f.severity, f.message]),
      [
        [
          'drift',
          `work pool ${SEED_POOL} of zone pipeline: env AWS_SECRET_ACCESS_KEY missing (expected valueFrom.secretKeyRef ${SECRET}/secret-key); re-install it with: rotator start-workflow BootstrapCluster`,
        ],
      ],
    );
    await bootstrap();
    assert.deepEqual(containerOf(await readTemplate()).env, [
      ...injectionEntries(SECRET).filter((e) => e.name !== 'AWS_SECRET_ACCESS_KEY'),
      ...injectionEntries(SECRET).filter((e) => e.name === 'AWS_SECRET_ACCESS_KEY'),
    ]);
    assert.deepEqual(poolFindings(await audit()), []);

    // Someone pastes a key into the template: audit calls it a violation, bootstrap refuses to touch it.
    const literal = structuredClone(await readTemplate());
    containerOf(literal).env = containerOf(literal).env.map((e: { name: string }) =>
      e.name === 'AWS_ACCESS_KEY_ID' ? { name: e.name, value: 'AKIA-PASTED-BY-HAND' } : e,
    );
    await prefect.writeTemplate(api, SEED_POOL, literal);
    const violation = poolFindings(await audit());
    const pasted = await poolUse();
    assert.deepEqual(pasted.literals, ['AWS_ACCESS_KEY_ID'], 'by-namespace names the literal entry');
    assert.doesNotMatch(JSON.stringify(pasted), /AKIA-PASTED-BY-HAND/, 'and never shows its value');
    assert.equal(violation.length, 1);
    assert.equal(violation[0]!.severity, 'violation');
    assert.match(violation[0]!.message, /env AWS_ACCESS_KEY_ID holds a literal value/);
    const err = await bootstrap().then(
      () => assert.fail('bootstrap overwrote a literal entry it did not put there'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal(
      rootCause(err),
      'work pool "dashi-default": env AWS_ACCESS_KEY_ID: holds a literal value (a key in the template is stored in Prefect\'s database and never rotates); fix the pool\'s base job template by hand, then re-run',
    );
    assert.deepEqual(await readTemplate(), literal, 'the refused template is left exactly as it was');

    // Put right by hand, the next bootstrap passes again.
    await prefect.writeTemplate(api, SEED_POOL, injected);
    await bootstrap();
    assert.deepEqual(poolFindings(await audit()), []);
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, workflowIds, secrets);
  });
});
