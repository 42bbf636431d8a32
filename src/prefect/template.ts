// The read-modify-write of a Prefect kubernetes work pool's base job template: the zone
// Secret reaches flow-run pods through `env` entries with `valueFrom.secretKeyRef`, so the
// key is resolved at pod admission and never stored in Prefect. Pure functions, so every
// case of a template someone else edited is unit-tested.
import type { V1PodSpec } from '@kubernetes/client-node';

/** Zone Secret key each injected variable reads (the Secret's keys, see activities/credentials). */
export const POOL_ENV = {
  AWS_ACCESS_KEY_ID: 'access-key',
  AWS_SECRET_ACCESS_KEY: 'secret-key',
  AWS_ENDPOINT_URL: 'endpoint',
} as const;

/** Prefect's placeholder for the flow run's own variables in the container's env. */
export const ENV_PLACEHOLDER = '{{ env }}';

export type EnvEntry = { name: string; value?: unknown; valueFrom?: unknown; [k: string]: unknown };

export type SecretRefEntry = {
  name: string;
  valueFrom: { secretKeyRef: { name: string; key: string } };
};

/** The env entries a pool's template must hold for the zone Secret `secretName`. */
export function injectionEntries(secretName: string): SecretRefEntry[] {
  return Object.entries(POOL_ENV).map(([name, key]) => ({
    name,
    valueFrom: { secretKeyRef: { name: secretName, key } },
  }));
}

/** Why a template cannot be patched without overwriting what someone else put there. */
export class TemplateConflict extends Error {
  constructor(
    readonly pool: string,
    readonly entry: string,
    reason: string,
  ) {
    super(`work pool "${pool}": ${entry}: ${reason}; fix the pool's base job template by hand, then re-run`);
    this.name = 'TemplateConflict';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const CONTAINER_PATH = 'base_job_template.job_configuration.job_manifest.spec.template.spec.containers[0]';

/** The first container of the template's Job manifest, or a conflict naming what is missing. */
function firstContainer(pool: string, template: unknown): Record<string, unknown> {
  let at: unknown = template;
  const path: Array<string | number> = [
    'job_configuration',
    'job_manifest',
    'spec',
    'template',
    'spec',
    'containers',
    0,
  ];
  const walked: string[] = ['base_job_template'];
  for (const step of path) {
    const next =
      typeof step === 'number'
        ? Array.isArray(at)
          ? at[step]
          : undefined
        : isObject(at)
          ? at[step]
          : undefined;
    walked.push(typeof step === 'number' ? `[${step}]` : `.${step}`);
    if (next === undefined)
      throw new TemplateConflict(
        pool,
        walked.join('').replace(/\.\[/g, '['),
        'missing (expected a kubernetes work pool template: job_configuration.job_manifest is a Job)',
      );
    at = next;
  }
  if (!isObject(at)) throw new TemplateConflict(pool, CONTAINER_PATH, 'not a container mapping');
  return at;
}

/**
 * The pod spec of the template's Job manifest as Prefect stores it (Jinja placeholders such as
 * "{{ env }}" included), for reading which Secrets its flow-run pods reference.
 */
export function templatePodSpec(template: unknown): V1PodSpec | undefined {
  let at: unknown = template;
  for (const step of ['job_configuration', 'job_manifest', 'spec', 'template', 'spec'])
    at = isObject(at) ? at[step] : undefined;
  if (!isObject(at)) return undefined;
  // Only lists of mappings are read: a placeholder where Kubernetes expects a list stays unread.
  const mappings = (v: unknown) => (Array.isArray(v) ? v.filter(isObject) : undefined);
  const container = (c: Record<string, unknown>) => ({
    ...c,
    env: mappings(c.env),
    envFrom: mappings(c.envFrom),
  });
  return {
    containers: (mappings(at.containers) ?? []).map(container),
    initContainers: mappings(at.initContainers)?.map(container),
    volumes: mappings(at.volumes),
  } as unknown as V1PodSpec;
}

/** What a template holds for one injected variable. */
export type EntryState =
  | { state: 'ok' }
  | { state: 'missing' }
  | { state: 'literal' }
  | { state: 'other-ref'; secret?: string; key?: string }
  | { state: 'duplicate' };

export interface TemplateReport {
  /** The container env is Prefect's placeholder only: nothing injected yet. */
  placeholderOnly: boolean;
  entries: Record<string, EntryState>;
}

function entriesOf(pool: string, container: Record<string, unknown>): EnvEntry[] | 'placeholder' {
  const env = container.env;
  if (env === undefined || env === ENV_PLACEHOLDER) return 'placeholder';
  if (!Array.isArray(env) || !env.every((e) => isObject(e) && typeof e.name === 'string'))
    throw new TemplateConflict(
      pool,
      `${CONTAINER_PATH}.env`,
      `expected "${ENV_PLACEHOLDER}" or a list of {name, value|valueFrom}, found ${JSON.stringify(env).slice(0, 80)}`,
    );
  return env as EnvEntry[];
}

function stateOf(entries: EnvEntry[], want: SecretRefEntry): EntryState {
  const same = entries.filter((e) => e.name === want.name);
  if (same.length === 0) return { state: 'missing' };
  if (same.length > 1) return { state: 'duplicate' };
  const e = same[0]!;
  const ref =
    isObject(e.valueFrom) && isObject(e.valueFrom.secretKeyRef) ? e.valueFrom.secretKeyRef : undefined;
  if (!ref || e.value !== undefined)
    return e.value !== undefined ? { state: 'literal' } : { state: 'other-ref' };
  const keys = Object.keys(e).filter((k) => k !== 'name' && k !== 'valueFrom');
  if (
    ref.name === want.valueFrom.secretKeyRef.name &&
    ref.key === want.valueFrom.secretKeyRef.key &&
    !keys.length
  )
    return { state: 'ok' };
  return {
    state: 'other-ref',
    secret: typeof ref.name === 'string' ? ref.name : undefined,
    key: typeof ref.key === 'string' ? ref.key : undefined,
  };
}

/** Read-only: what the template holds for each injected variable (audit, plans). */
export function inspectTemplate(pool: string, template: unknown, secretName: string): TemplateReport {
  const entries = entriesOf(pool, firstContainer(pool, template));
  const wanted = injectionEntries(secretName);
  if (entries === 'placeholder')
    return {
      placeholderOnly: true,
      entries: Object.fromEntries(wanted.map((w) => [w.name, { state: 'missing' }])),
    };
  return {
    placeholderOnly: false,
    entries: Object.fromEntries(wanted.map((w) => [w.name, stateOf(entries, w)])),
  };
}

const expected = (name: string, secretName: string) =>
  `valueFrom.secretKeyRef ${secretName}/${POOL_ENV[name as keyof typeof POOL_ENV]}`;

/** What is wrong with one entry, or undefined when it is right. */
function problem(name: string, s: EntryState, secretName: string): string | undefined {
  switch (s.state) {
    case 'ok':
      return undefined;
    case 'missing':
      return `missing (expected ${expected(name, secretName)})`;
    case 'literal':
      return "holds a literal value (a key in the template is stored in Prefect's database and never rotates)";
    case 'duplicate':
      return 'is listed more than once';
    case 'other-ref':
      return `references ${s.secret ?? '?'}/${s.key ?? '?'} instead of ${expected(name, secretName)}`;
  }
}

/** One line per entry that is not as it should be; empty when the injection is complete. */
export function describeProblems(report: TemplateReport, secretName: string): string[] {
  return Object.entries(report.entries).flatMap(([name, s]) => {
    const p = problem(name, s, secretName);
    return p ? [`env ${name} ${p}`] : [];
  });
}

export interface InjectionResult {
  /** The template to write back; every part other than the container's env is the input's. */
  template: Record<string, unknown>;
  /** Entries added now; empty when the template already held them all. */
  added: string[];
}

/**
 * The template with the zone Secret's entries in the first container's env. Prefect's
 * `{{ env }}` placeholder becomes a list: the Kubernetes worker puts the flow run's own
 * variables before a literal list, so they still reach the pod. Entries that are already
 * right are kept; one of the same name holding anything else (a literal, another Secret or
 * key) is someone else's change, and the call refuses rather than overwrite it.
 */
export function injectZoneSecret(pool: string, template: unknown, secretName: string): InjectionResult {
  if (!isObject(template)) throw new TemplateConflict(pool, 'base_job_template', 'empty or not a mapping');
  const copy = structuredClone(template);
  const container = firstContainer(pool, copy);
  const current = entriesOf(pool, container);
  const entries = current === 'placeholder' ? [] : current;
  const added: string[] = [];
  for (const want of injectionEntries(secretName)) {
    const s = stateOf(entries, want);
    if (s.state === 'ok') continue;
    if (s.state === 'missing') {
      entries.push(want);
      added.push(want.name);
      continue;
    }
    throw new TemplateConflict(
      pool,
      `env ${want.name}`,
      describeProblems({ placeholderOnly: false, entries: { [want.name]: s } }, secretName)[0]!.replace(
        /^env \S+ /,
        '',
      ),
    );
  }
  container.env = entries;
  return { template: copy, added };
}

const POD_METADATA_PATH = 'base_job_template.job_configuration.job_manifest.spec.template.metadata.labels';

/** The pod template's labels mapping of the Job manifest (created when absent and `create`). */
function podLabels(pool: string, template: unknown, create: boolean): Record<string, unknown> | undefined {
  const manifest =
    isObject(template) && isObject(template.job_configuration)
      ? template.job_configuration.job_manifest
      : undefined;
  const spec = isObject(manifest) ? manifest.spec : undefined;
  const podTemplate = isObject(spec) ? spec.template : undefined;
  if (!isObject(podTemplate))
    throw new TemplateConflict(
      pool,
      POD_METADATA_PATH,
      'missing (expected a kubernetes work pool template: job_configuration.job_manifest is a Job)',
    );
  if (podTemplate.metadata === undefined && create) podTemplate.metadata = {};
  const metadata = podTemplate.metadata;
  if (metadata === undefined) return undefined;
  if (!isObject(metadata)) throw new TemplateConflict(pool, POD_METADATA_PATH, 'metadata is not a mapping');
  if (metadata.labels === undefined && create) metadata.labels = {};
  if (metadata.labels === undefined) return undefined;
  if (!isObject(metadata.labels))
    throw new TemplateConflict(pool, POD_METADATA_PATH, 'not a mapping of labels');
  return metadata.labels;
}

/**
 * What is wrong with the pod label flow-run pods need to be admitted by the NetworkPolicies,
 * or undefined when the template sets it.
 */
export function podLabelProblem(
  pool: string,
  template: unknown,
  key: string,
  value: string,
): string | undefined {
  const labels = podLabels(pool, template, false);
  const current = labels?.[key];
  if (current === value) return undefined;
  return current === undefined
    ? `pod label ${key}: ${value} missing (its flow-run pods would not be admitted to the store by the NetworkPolicies)`
    : `pod label ${key} is "${String(current)}" instead of "${value}"`;
}

/**
 * The template with `key: value` among its pod labels: flow-run pods carry it from admission,
 * so the store's NetworkPolicy admits them. Another value there is someone else's choice: refused.
 */
export function injectPodLabel(
  pool: string,
  template: Record<string, unknown>,
  key: string,
  value: string,
): { template: Record<string, unknown>; added: boolean } {
  const copy = structuredClone(template);
  const labels = podLabels(pool, copy, true)!;
  if (labels[key] === value) return { template: copy, added: false };
  if (labels[key] !== undefined)
    throw new TemplateConflict(pool, `pod label ${key}`, `is "${String(labels[key])}", expected "${value}"`);
  labels[key] = value;
  return { template: copy, added: true };
}
