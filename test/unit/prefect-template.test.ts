import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeProblems,
  injectPodLabel,
  injectZoneSecret,
  inspectTemplate,
  podLabelProblem,
  POOL_ENV,
  TemplateConflict,
  templatePodSpec,
} from '../../src/prefect/template';
import { allSecretReferences } from '../../src/kube/secret-refs';

const SECRET = 'dashi-rustfs-pipeline';
const POOL = 'dashi-default';

/** The shape of Prefect's kubernetes worker default template (prefect-kubernetes), trimmed. */
function kubernetesTemplate(env: unknown = '{{ env }}') {
  return {
    job_configuration: {
      command: '{{ command }}',
      env: '{{ env }}',
      namespace: '{{ namespace }}',
      job_manifest: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { generateName: '{{ name }}-', namespace: '{{ namespace }}' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [{ name: 'prefect-job', env, image: '{{ image }}', args: '{{ command }}' }],
            },
          },
        },
      },
      stream_output: '{{ stream_output }}',
    },
    variables: {
      type: 'object',
      properties: {
        env: { type: 'object', additionalProperties: { type: 'string' } },
        image: { type: 'string' },
      },
    },
  };
}

const containerEnv = (t: unknown) =>
  (t as ReturnType<typeof kubernetesTemplate>).job_configuration.job_manifest.spec.template.spec
    .containers[0]!.env as Array<Record<string, unknown>>;

const ref = (name: string, secret = SECRET, key = POOL_ENV[name as keyof typeof POOL_ENV]) => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

describe('injectZoneSecret', () => {
  test("replaces Prefect's {{ env }} placeholder by secretKeyRef entries and keeps every other part", () => {
    const input = kubernetesTemplate();
    const { template, added } = injectZoneSecret(POOL, input, SECRET);
    assert.deepEqual(added, Object.keys(POOL_ENV));
    assert.deepEqual(
      containerEnv(template),
      Object.keys(POOL_ENV).map((n) => ref(n)),
    );
    // Everything but the container's env is unchanged, and the input is not mutated.
    const expected = kubernetesTemplate();
    expected.job_configuration.job_manifest.spec.template.spec.containers[0]!.env = containerEnv(
      template,
    ) as never;
    assert.deepEqual(template, expected);
    assert.equal(input.job_configuration.job_manifest.spec.template.spec.containers[0]!.env, '{{ env }}');
    for (const e of containerEnv(template)) assert.equal(e.value, undefined, 'never a literal value');
  });

  test('keeps entries of others in a literal env list and adds only what is missing', () => {
    const others = [{ name: 'LOG_LEVEL', value: 'debug' }, ref('AWS_ACCESS_KEY_ID')];
    const { template, added } = injectZoneSecret(POOL, kubernetesTemplate(others), SECRET);
    assert.deepEqual(added, ['AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL']);
    assert.deepEqual(containerEnv(template), [
      { name: 'LOG_LEVEL', value: 'debug' },
      ref('AWS_ACCESS_KEY_ID'),
      ref('AWS_SECRET_ACCESS_KEY'),
      ref('AWS_ENDPOINT_URL'),
    ]);
  });

  test('is idempotent: an injected template comes back unchanged with nothing added', () => {
    const once = injectZoneSecret(POOL, kubernetesTemplate(), SECRET).template;
    const twice = injectZoneSecret(POOL, once, SECRET);
    assert.deepEqual(twice.added, []);
    assert.deepEqual(twice.template, once);
  });

  test('refuses to overwrite an entry of the same name holding a literal value, naming pool and entry', () => {
    const t = kubernetesTemplate([{ name: 'AWS_SECRET_ACCESS_KEY', value: 'hunter2-literal' }]);
    assert.throws(
      () => injectZoneSecret(POOL, t, SECRET),
      (err: unknown) => {
        assert.ok(err instanceof TemplateConflict);
        assert.match(
          err.message,
          /work pool "dashi-default": env AWS_SECRET_ACCESS_KEY: holds a literal value/,
        );
        assert.doesNotMatch(err.message, /hunter2/, 'the literal value is never repeated');
        return true;
      },
    );
  });

  test('refuses an entry referencing another Secret or another key', () => {
    for (const wrong of [
      ref('AWS_ACCESS_KEY_ID', 'dashi-rustfs-ingest'),
      ref('AWS_ACCESS_KEY_ID', SECRET, 'secret-key'),
    ]) {
      assert.throws(
        () => injectZoneSecret(POOL, kubernetesTemplate([wrong]), SECRET),
        /env AWS_ACCESS_KEY_ID: references .* instead of valueFrom.secretKeyRef dashi-rustfs-pipeline\/access-key/,
      );
    }
  });

  test('refuses templates that are not of the kubernetes shape, saying what is missing', () => {
    assert.throws(() => injectZoneSecret(POOL, {}, SECRET), /job_configuration: missing/);
    const noContainers = kubernetesTemplate();
    noContainers.job_configuration.job_manifest.spec.template.spec.containers = [];
    assert.throws(() => injectZoneSecret(POOL, noContainers, SECRET), /containers\[0\]: missing/);
    assert.throws(
      () => injectZoneSecret(POOL, kubernetesTemplate({ A: 'b' }), SECRET),
      /expected "\{\{ env \}\}" or a list/,
    );
    assert.throws(() => injectZoneSecret(POOL, null, SECRET), /empty or not a mapping/);
  });
});

describe('inspectTemplate / describeProblems', () => {
  test('an injected template has no problems; the placeholder alone misses every entry', () => {
    const injected = injectZoneSecret(POOL, kubernetesTemplate(), SECRET).template;
    assert.deepEqual(describeProblems(inspectTemplate(POOL, injected, SECRET), SECRET), []);
    const bare = inspectTemplate(POOL, kubernetesTemplate(), SECRET);
    assert.equal(bare.placeholderOnly, true);
    assert.equal(describeProblems(bare, SECRET).length, Object.keys(POOL_ENV).length);
  });

  test('reports a literal key, a wrong Secret and a duplicate', () => {
    const t = kubernetesTemplate([
      { name: 'AWS_ACCESS_KEY_ID', value: 'AKIA-literal' },
      ref('AWS_SECRET_ACCESS_KEY', 'dashi-rustfs-serving'),
      ref('AWS_ENDPOINT_URL'),
      ref('AWS_ENDPOINT_URL'),
    ]);
    const problems = describeProblems(inspectTemplate(POOL, t, SECRET), SECRET);
    assert.deepEqual(problems, [
      "env AWS_ACCESS_KEY_ID holds a literal value (a key in the template is stored in Prefect's database and never rotates)",
      'env AWS_SECRET_ACCESS_KEY references dashi-rustfs-serving/secret-key instead of valueFrom.secretKeyRef dashi-rustfs-pipeline/secret-key',
      'env AWS_ENDPOINT_URL is listed more than once',
    ]);
    assert.ok(!problems.join().includes('AKIA-literal'));
  });
});

describe('the pod label NetworkPolicies admit flow-run pods by', () => {
  const KEY = 'rotator.dev/zone';
  test('added to the pod template (metadata created), kept once there, the rest untouched', () => {
    const input = kubernetesTemplate();
    assert.match(
      podLabelProblem(POOL, input, KEY, 'pipeline')!,
      /pod label rotator.dev\/zone: pipeline missing/,
    );
    const { template, added } = injectPodLabel(POOL, input, KEY, 'pipeline');
    assert.equal(added, true);
    assert.equal(podLabelProblem(POOL, template, KEY, 'pipeline'), undefined);
    const pod = (template as ReturnType<typeof kubernetesTemplate>).job_configuration.job_manifest.spec
      .template as {
      metadata?: { labels?: Record<string, string> };
      spec: unknown;
    };
    assert.deepEqual(pod.metadata, { labels: { [KEY]: 'pipeline' } });
    assert.deepEqual(pod.spec, input.job_configuration.job_manifest.spec.template.spec);
    assert.equal(injectPodLabel(POOL, template, KEY, 'pipeline').added, false);
    assert.equal(podLabels(input), undefined, 'the input is not modified');
  });

  test('another value is refused, and reported', () => {
    const { template } = injectPodLabel(POOL, kubernetesTemplate(), KEY, 'serving');
    assert.match(podLabelProblem(POOL, template, KEY, 'pipeline')!, /is "serving" instead of "pipeline"/);
    assert.throws(() => injectPodLabel(POOL, template, KEY, 'pipeline'), TemplateConflict);
  });
});

describe('the pod spec of a template, for the by-namespace audit', () => {
  test('the injected template reads the zone Secret through its three variables', () => {
    const { template } = injectZoneSecret(POOL, kubernetesTemplate(), SECRET);
    assert.deepEqual(
      allSecretReferences(templatePodSpec(template)),
      Object.keys(POOL_ENV).map((name) => ({ secret: SECRET, via: `env:prefect-job/${name}` })),
    );
  });

  test('placeholders where Kubernetes expects lists are not read; a template that is not a Job has none', () => {
    assert.deepEqual(allSecretReferences(templatePodSpec(kubernetesTemplate())), []);
    const odd = kubernetesTemplate([
      null,
      'x',
      { name: 'K', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } },
    ]);
    assert.deepEqual(allSecretReferences(templatePodSpec(odd)), [
      { secret: 'other', via: 'env:prefect-job/K' },
    ]);
    assert.equal(templatePodSpec({ job_configuration: { command: 'x' } }), undefined);
    assert.equal(templatePodSpec(undefined), undefined);
  });
});

function podLabels(t: ReturnType<typeof kubernetesTemplate>): unknown {
  return (t.job_configuration.job_manifest.spec.template as { metadata?: { labels?: unknown } }).metadata
    ?.labels;
}
