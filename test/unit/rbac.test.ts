// `rotator rbac`: deploy/rbac/ is what the inventory renders, and what it renders grants
// Secrets and workloads by name, pod deletion only in the store's namespace, and admission
// policies for what RBAC cannot name. test/integration/kube-rbac.test.ts applies the same
// files to a real apiserver and shows what they allow and refuse.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type {
  KubernetesObject,
  V1PolicyRule,
  V1Role,
  V1ValidatingAdmissionPolicy,
} from '@kubernetes/client-node';
import { EXIT } from '../../src/cli/output';
import { parseInventory } from '../../src/inventory';
import { APPROVAL_OBJECT_NAMES, APPROVALS_FILE, renderApprovals } from '../../src/approvals/render';
import { ADMISSION_POLICY_NAMES, DEFAULT_WORKER_ACCOUNT, RBAC_FILES } from '../../src/rbac/names';
import { rbacGrants, renderRbac } from '../../src/rbac/render';
import { SANDBOX_STATE_ENV } from '../../src/sandbox/state';
import { runCli } from '../support/cli';
import { DASHI_YAML } from '../support/zone-mocks';

const ROOT = path.join(__dirname, '..', '..');
const dashi = () => parseInventory(DASHI_YAML, 'config/dashi.yaml');
const render = (yaml = DASHI_YAML) =>
  renderRbac(parseInventory(yaml, 'inventory.yaml'), DEFAULT_WORKER_ACCOUNT);

/** `group/resource` → verbs, and the names each verb is limited to (undefined: any name). */
function granted(role: V1Role): Record<string, Record<string, string[] | undefined>> {
  const out: Record<string, Record<string, string[] | undefined>> = {};
  for (const r of role.rules ?? []) {
    for (const x of [...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs]) assert.notEqual(x, '*');
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? [])
        for (const verb of r.verbs) {
          const key = `${g || 'core'}/${res}`;
          out[key] ??= {};
          assert.ok(!(verb in out[key]), `${verb} ${key} granted twice`);
          out[key][verb] = r.resourceNames ? [...r.resourceNames].sort() : undefined;
        }
  }
  return out;
}

const roles = (files: Record<string, KubernetesObject[]>) =>
  Object.fromEntries(files['role.yaml']!.map((r) => [r.metadata!.namespace!, granted(r as V1Role)] as const));

describe('rotator rbac', () => {
  test('the committed deploy/rbac files are what config/dashi.yaml renders', () => {
    const texts = renderRbac(dashi(), DEFAULT_WORKER_ACCOUNT).yaml('config/dashi.yaml');
    const dir = path.join(ROOT, 'deploy', 'rbac');
    assert.deepEqual(
      fs
        .readdirSync(dir)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort(),
      [...RBAC_FILES].sort(),
      'deploy/rbac holds exactly the rendered files (kubectl apply -f deploy/rbac/ applies every one)',
    );
    for (const f of RBAC_FILES)
      assert.equal(
        fs.readFileSync(path.join(dir, f), 'utf8'),
        texts[f],
        `stale deploy/rbac/${f}: rotator rbac --config config/dashi.yaml --write deploy/rbac`,
      );
  });

  test('the YAML reads back as the rendered objects', () => {
    const r = render();
    const texts = r.yaml('x');
    for (const f of RBAC_FILES) {
      const back = parseAllDocuments(texts[f]).map((d) => d.toJS() as unknown);
      assert.deepEqual(back, JSON.parse(JSON.stringify(r.files[f])), f);
    }
  });

  test('dashi: Secrets by name, patch on the named consumers and the store, pod deletion only in the store namespace', () => {
    const r = render();
    assert.deepEqual(r.warnings, []);
    const workloads = { get: undefined, list: undefined, watch: undefined };
    const common = {
      'core/pods': { list: undefined },
      'apps/replicasets': { list: undefined },
      'core/events': { create: undefined },
      'networking.k8s.io/networkpolicies': { get: undefined, create: undefined, update: undefined },
    };
    const secrets = (...names: string[]) => {
      const all = names.flatMap((n) => [n, `${n}-pending`]).sort();
      return { get: all, update: all, delete: all, create: undefined };
    };
    assert.deepEqual(roles(r.files), {
      'dashi-data': {
        'core/secrets': secrets('dashi-rustfs-ingest', 'dashi-rustfs-pipeline'),
        // ingest and pipeline restart nothing: no patch at all.
        'apps/deployments': workloads,
        'apps/statefulsets': workloads,
        'apps/daemonsets': workloads,
        ...common,
      },
      'dashi-platform': {
        'core/secrets': secrets('rustfs-root'),
        'apps/deployments': workloads,
        'apps/statefulsets': { ...workloads, patch: ['rustfs'] },
        'apps/daemonsets': workloads,
        ...common,
        'core/pods': { list: undefined, delete: undefined },
      },
      'dashi-serving': {
        'core/secrets': secrets('dashi-rustfs-serving'),
        'apps/deployments': { ...workloads, patch: ['duckdb-endpoint', 'titiler'] },
        'apps/statefulsets': workloads,
        'apps/daemonsets': workloads,
        ...common,
      },
      // approvals.namespace: the RotationDecisions a run reads, nothing else (never create).
      'rustfs-rotator': { 'rotator.dev/rotationdecisions': { get: undefined, list: undefined } },
    });
    for (const b of r.files['rolebinding.yaml']) {
      const rb = b as KubernetesObject & { subjects: unknown; roleRef: unknown };
      assert.deepEqual(rb.subjects, [
        { kind: 'ServiceAccount', name: 'rustfs-rotator', namespace: 'rustfs-rotator' },
      ]);
      assert.deepEqual(rb.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'rustfs-rotator',
      });
    }
    assert.deepEqual(
      r.files['rolebinding.yaml'].map((b) => b.metadata!.namespace),
      r.files['role.yaml'].map((b) => b.metadata!.namespace),
    );
  });

  test('admission policies: one per thing RBAC cannot name, each bound, each only for the worker, failing closed', () => {
    const r = render();
    const objects = r.files['admission-policies.yaml'];
    const policies = objects.filter(
      (o) => o.kind === 'ValidatingAdmissionPolicy',
    ) as V1ValidatingAdmissionPolicy[];
    assert.deepEqual(
      policies.map((p) => p.metadata!.name).sort(),
      Object.values(ADMISSION_POLICY_NAMES).sort(),
    );
    for (const p of policies) {
      assert.equal(p.apiVersion, 'admissionregistration.k8s.io/v1');
      assert.equal(p.spec!.failurePolicy, 'Fail');
      assert.deepEqual(p.spec!.matchConditions, [
        {
          name: 'rotator-worker',
          expression: "request.userInfo.username == 'system:serviceaccount:rustfs-rotator:rustfs-rotator'",
        },
      ]);
      assert.ok(p.spec!.validations!.every((v) => v.reason === 'Forbidden'));
      const b = objects.find(
        (o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata!.name === p.metadata!.name,
      );
      assert.deepEqual((b as { spec?: unknown }).spec, {
        policyName: p.metadata!.name,
        validationActions: ['Deny'],
      });
    }
    const byName = (n: string) => policies.find((p) => p.metadata!.name === n)!;
    const ops = (n: string) =>
      byName(n).spec!.matchConstraints!.resourceRules!.map((x) => [x.operations, x.resources]);
    assert.deepEqual(ops(ADMISSION_POLICY_NAMES.secrets), [[['CREATE'], ['secrets']]]);
    assert.deepEqual(ops(ADMISSION_POLICY_NAMES.workloads), [
      [['UPDATE'], ['deployments', 'statefulsets', 'daemonsets']],
    ]);
    assert.deepEqual(ops(ADMISSION_POLICY_NAMES.pods), [[['DELETE'], ['pods']]]);
    // The names each policy admits are the ones the Roles name.
    const secretCel = byName(ADMISSION_POLICY_NAMES.secrets).spec!.validations![0]!.expression;
    for (const g of r.grants)
      for (const s of g.secrets) assert.ok(secretCel.includes(`'${g.namespace}/${s}'`), s);
    assert.equal((secretCel.match(/'[a-z0-9-]+\/[a-z0-9-]+'/g) ?? []).length, 8);
    const workloadCel = byName(ADMISSION_POLICY_NAMES.workloads).spec!.validations![0]!.expression;
    assert.match(workloadCel, /'deployments\/dashi-serving\/titiler'/);
    assert.match(workloadCel, /'statefulsets\/dashi-platform\/rustfs'/);
    assert.doesNotMatch(workloadCel, /request\.namespace in/);
    assert.match(
      byName(ADMISSION_POLICY_NAMES.pods).spec!.validations![0]!.expression,
      /request\.namespace == 'dashi-platform'[\s\S]*o\.kind == 'StatefulSet' && o\.name == 'rustfs'/,
    );
  });

  test('nothing cluster-wide but the admission policies; no Secret list/watch anywhere', () => {
    const r = render();
    const all = RBAC_FILES.flatMap((f) => r.files[f]);
    for (const o of all)
      assert.ok(
        [
          'Namespace',
          'ServiceAccount',
          'Role',
          'RoleBinding',
          'ValidatingAdmissionPolicy',
          'ValidatingAdmissionPolicyBinding',
        ].includes(o.kind!),
        o.kind,
      );
    for (const role of r.files['role.yaml'] as V1Role[])
      for (const rule of role.rules as V1PolicyRule[])
        if (rule.resources!.includes('secrets'))
          assert.ok(!rule.verbs.some((v) => v === 'list' || v === 'watch'));
  });

  test('consumers: auto cannot be named: patch on every workload of that namespace, a warning, the policy admits the namespace', () => {
    const auto = DASHI_YAML.replace(
      /consumers:\n\s+- kind: Deployment\n\s+namespace: dashi-serving\n\s+name: titiler\n\s+- kind: Deployment\n\s+namespace: dashi-serving\n\s+name: duckdb-endpoint/,
      'consumers: auto',
    );
    assert.notEqual(auto, DASHI_YAML);
    const r = render(auto);
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0]!,
      /zone\(s\) serving say consumers: auto: the worker may patch any Deployment, StatefulSet or DaemonSet in dashi-serving/,
    );
    const serving = roles(r.files)['dashi-serving']!;
    for (const k of ['deployments', 'statefulsets', 'daemonsets'])
      assert.deepEqual(serving[`apps/${k}`], {
        get: undefined,
        list: undefined,
        watch: undefined,
        patch: undefined,
      });
    const policy = r.files['admission-policies.yaml'].find(
      (o) => o.metadata!.name === ADMISSION_POLICY_NAMES.workloads && o.kind === 'ValidatingAdmissionPolicy',
    ) as V1ValidatingAdmissionPolicy;
    assert.match(
      policy.spec!.validations![0]!.expression,
      /^request\.namespace in \[\n {2}'dashi-serving'\n\] \|\|/,
    );
    // The store is still patched by name only.
    assert.deepEqual(roles(r.files)['dashi-platform']!['apps/statefulsets']!.patch, ['rustfs']);
  });

  test('grants follow the inventory: a consumer in another namespace, a StatefulSet consumer, a DaemonSet', () => {
    const inv = dashi();
    const zone = inv.zones.find((z) => z.name === 'ingest')!;
    zone.consumers = [
      { kind: 'DaemonSet', namespace: 'dashi-data', name: 'flow-agent' },
      { kind: 'StatefulSet', namespace: 'dashi-jobs', name: 'runner' },
    ];
    const grants = rbacGrants(inv);
    assert.deepEqual(
      grants.map((g) => g.namespace),
      ['dashi-data', 'dashi-jobs', 'dashi-platform', 'dashi-serving', 'rustfs-rotator'],
    );
    const jobs = grants.find((g) => g.namespace === 'dashi-jobs')!;
    assert.deepEqual(jobs.secrets, [], 'no Secret there: no Secret rule');
    assert.deepEqual(jobs.restart.StatefulSet, ['runner']);
    assert.deepEqual(grants.find((g) => g.namespace === 'dashi-data')!.restart.DaemonSet, ['flow-agent']);
    const r = renderRbac(inv, { namespace: 'ops', name: 'rotator' });
    const jobsRole = roles(r.files)['dashi-jobs']!;
    assert.equal(jobsRole['core/secrets'], undefined);
    assert.deepEqual(jobsRole['apps/statefulsets']!.patch, ['runner']);
    assert.equal(jobsRole['core/pods']!.delete, undefined, 'pods are deleted only in the store namespace');
    assert.match(
      r.yaml('x')['admission-policies.yaml'],
      /request\.userInfo\.username == 'system:serviceaccount:ops:rotator'/,
    );
    assert.deepEqual(
      r.files['serviceaccount.yaml'].map(
        (o) => `${o.kind}/${o.metadata!.namespace ?? ''}/${o.metadata!.name}`,
      ),
      ['Namespace//ops', 'ServiceAccount/ops/rotator'],
    );
  });
});

describe('rotator rbac --check and --write', () => {
  const env = { ROTATOR_CONFIG: undefined, [SANDBOX_STATE_ENV]: undefined };
  const config = path.join(ROOT, 'config', 'dashi.yaml');

  test('--write renders every file; --check passes, then names the stale and the unexpected file with exit 6', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-rbac-'));
    const written = await runCli(['rbac', '--config', config, '--write', dir], env);
    assert.equal(written.code, 0, written.stderr);
    for (const f of RBAC_FILES)
      assert.equal(
        fs.readFileSync(path.join(dir, f), 'utf8'),
        fs.readFileSync(path.join(ROOT, 'deploy', 'rbac', f), 'utf8'),
      );
    const ok = await runCli(['rbac', '--config', config, '--check', dir], env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /is up to date/);

    fs.appendFileSync(path.join(dir, 'role.yaml'), '# edited by hand\n');
    fs.writeFileSync(path.join(dir, 'extra.yaml'), 'kind: ClusterRoleBinding\n');
    const stale = await runCli(['rbac', '--config', config, '--check', dir, '--json'], env);
    assert.equal(stale.code, EXIT.findings, stale.stdout + stale.stderr);
    const report = JSON.parse(stale.stdout) as { upToDate: boolean; stale: string[]; unexpected: string[] };
    assert.equal(report.upToDate, false);
    assert.deepEqual(report.stale, [path.join(dir, 'role.yaml')]);
    assert.deepEqual(report.unexpected, [path.join(dir, 'extra.yaml')]);

    const human = await runCli(['rbac', '--config', config, '--check', dir], env);
    assert.equal(human.code, EXIT.findings);
    assert.match(
      human.stdout,
      new RegExp(`${path.join(dir, 'role.yaml')} is out of date: re-render it with rotator rbac`),
    );
    assert.match(human.stdout, /extra\.yaml is not rendered by rotator rbac/);
  });

  test('a bad --service-account is a usage error', async () => {
    const run = await runCli(['rbac', '--config', config, '--service-account', 'just-a-name'], env);
    assert.equal(run.code, EXIT.usage);
    assert.match(run.stderr, /--service-account expects <namespace>\/<name>/);
  });
});

describe('rotator approvals', () => {
  test('deploy/approvals/approvals.yaml is what config/dashi.yaml renders, and --check says when it is not', async () => {
    const text = renderApprovals(dashi()).yaml('config/dashi.yaml');
    assert.equal(
      fs.readFileSync(path.join(ROOT, 'deploy', 'approvals', APPROVALS_FILE), 'utf8'),
      text,
      'stale deploy/approvals/approvals.yaml: rotator approvals --config config/dashi.yaml --write deploy/approvals',
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'approvals-check-'));
    const env = { [SANDBOX_STATE_ENV]: '' };
    const config = path.join(ROOT, 'config', 'dashi.yaml');
    fs.writeFileSync(
      path.join(dir, APPROVALS_FILE),
      text.replace('verbs: [approve, resume, rollback]', 'verbs: [approve]'),
    );
    const stale = await runCli(['approvals', '--config', config, '--check', dir], env);
    assert.equal(stale.code, EXIT.findings, stale.stdout + stale.stderr);
    assert.match(stale.stdout, /approvals\.yaml is out of date: re-render it with rotator approvals/);
    fs.rmSync(dir, { recursive: true });
  });

  test('the worker reads decisions only where and when the inventory takes them from Kubernetes', () => {
    const inv = dashi();
    inv.approvals = { ...inv.approvals, authority: 'any-temporal-client' };
    const r = renderRbac(inv, DEFAULT_WORKER_ACCOUNT);
    assert.deepEqual(
      r.files['role.yaml'].map((o) => o.metadata!.namespace),
      ['dashi-data', 'dashi-platform', 'dashi-serving'],
    );
    const all = JSON.stringify(r.files);
    assert.ok(!all.includes('rotationdecisions'), 'no decision rule without the kubernetes authority');
  });

  test('the policy admits a decision only for its authenticated creator holding the verb, and refuses spec changes', () => {
    const objects = renderApprovals(dashi()).objects;
    const policy = objects.find((o) => o.kind === 'ValidatingAdmissionPolicy') as V1ValidatingAdmissionPolicy;
    assert.equal(policy.spec!.failurePolicy, 'Fail');
    assert.equal(policy.spec!.matchConditions, undefined, 'applies to everyone who creates a decision');
    const cel = policy.spec!.validations!.map((v) => v.expression);
    assert.ok(cel.some((e) => e.includes('object.spec.user == request.userInfo.username')));
    assert.ok(cel.some((e) => /authorizer\.group\('rotator\.dev'\)\.resource\('rotations'\)/.test(e)));
    assert.ok(cel.some((e) => e.includes('object.spec == oldObject.spec')));
    const revoker = objects.find((o) => o.metadata!.name === APPROVAL_OBJECT_NAMES.revoker) as V1Role;
    assert.deepEqual(revoker.rules![1]!.resourceNames, ['zone-ingest', 'zone-pipeline', 'zone-serving']);
  });
});
