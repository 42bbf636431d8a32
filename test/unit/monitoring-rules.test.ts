// deploy/monitoring with real Prometheus tooling: the pinned promtool checks the rules and runs
// their tests (series that fire and series that do not); the dashboard's queries are PromQL
// promtool accepts and name only metrics the worker exports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { type MetricsCollector } from '../../src/metrics/collect';
import { rotatorRegistry } from '../../src/metrics/server';
import { toolPath } from '../../src/sandbox/tools';

const DIR = path.join(__dirname, '..', '..', 'deploy', 'monitoring');
const RULES = path.join(DIR, 'rotator-rules.yaml');
const testFiles = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.test.yaml'))
  .map((f) => path.join(DIR, f));

/** The pinned promtool; missing, this throws with the command that builds it. */
const promtool = () => toolPath('promtool');

function run(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(promtool(), args, { cwd: DIR, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

interface RuleTest {
  name: string;
  alert_rule_test?: Array<{ alertname: string; eval_time: string; exp_alerts?: unknown[] }>;
}

describe('deploy/monitoring', () => {
  test('promtool check rules accepts the rules', () => {
    const r = run(['check', 'rules', RULES]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: \d+ rules found/);
  });

  test('promtool test rules: every case passes', () => {
    assert.ok(testFiles.length > 0, `no *.test.yaml in ${DIR}`);
    const r = run(['test', 'rules', ...testFiles]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  test('every alert has a case where it fires and a case where it does not', () => {
    const alerts = (
      YAML.parse(fs.readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string }> }> }
    ).groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    const cases = testFiles.flatMap(
      (f) => (YAML.parse(fs.readFileSync(f, 'utf8')) as { tests: RuleTest[] }).tests,
    );
    const fires = new Set<string>();
    const silent = new Set<string>();
    for (const c of cases)
      for (const a of c.alert_rule_test ?? []) (a.exp_alerts?.length ? fires : silent).add(a.alertname);
    const problems = alerts.flatMap((a) => [
      ...(fires.has(a) ? [] : [`${a}: no case where it fires`]),
      ...(silent.has(a) ? [] : [`${a}: no case where it does not fire`]),
    ]);
    // A case about an alert that does not exist would pass vacuously with no alerts expected.
    for (const name of [...fires, ...silent])
      if (!alerts.includes(name)) problems.push(`${name}: tested, but no such alert in ${RULES}`);
    assert.deepEqual(problems, []);
  });

  test('promtool test rules fails when an expectation is wrong (the test really checks)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-neg-'));
    try {
      fs.copyFileSync(RULES, path.join(tmp, path.basename(RULES)));
      fs.writeFileSync(
        path.join(tmp, 'wrong.test.yaml'),
        YAML.stringify({
          rule_files: [path.basename(RULES)],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: [
                {
                  series:
                    'rustfs_rotator_last_rotation_result{workflow="RotateZone",zone="serving",result="completed"}',
                  values: '1x5',
                },
              ],
              alert_rule_test: [
                {
                  eval_time: '3m',
                  alertname: 'RotatorRotationFailed',
                  exp_alerts: [
                    { exp_labels: { severity: 'critical', workflow: 'RotateZone', zone: 'serving' } },
                  ],
                },
              ],
            },
          ],
        }),
      );
      const r = spawnSync(promtool(), ['test', 'rules', 'wrong.test.yaml'], { cwd: tmp, encoding: 'utf8' });
      assert.notEqual(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.match(`${r.stdout}${r.stderr}`, /RotatorRotationFailed/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('the dashboard: valid PromQL, and every rotator metric it queries is one the worker exports', async () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
    );
    assert.ok(exprs.length > 0);
    // Grafana's variables replaced by values, each query as a recording rule promtool parses.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-'));
    try {
      const file = path.join(tmp, 'dashboard-queries.yaml');
      const concrete = (e: string) => e.replace(/\$__rate_interval|\$__range/g, '5m').replace(/\$job/g, '.*');
      fs.writeFileSync(
        file,
        YAML.stringify({
          groups: [
            {
              name: 'dashboard',
              rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: concrete(e.expr) })),
            },
          ],
        }),
      );
      const r = run(['check', 'rules', file]);
      assert.equal(r.code, 0, r.out);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    const collector = { errors: {}, snapshot: () => Promise.reject(new Error('not collected here')) };
    const exported = new Set(
      rotatorRegistry(collector as unknown as MetricsCollector)
        .registry.getMetricsAsArray()
        .flatMap((metric) => {
          const name = (metric as unknown as { name: string }).name;
          return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
        }),
    );
    const unknown = exprs.flatMap(({ title, expr }) =>
      [...expr.matchAll(/rustfs_rotator_[a-z_]+/g)]
        .map((m) => m[0])
        .filter((n) => !exported.has(n))
        .map((n) => `${title}: ${n}`),
    );
    assert.deepEqual(unknown, []);
  });
});
