// What can be proven about docker-compose.yml, the Dockerfile and deploy/ without a Docker
// engine or a cluster: they parse, images are pinned, the worker's environment in each
// passes the worker's own configuration loader (src/worker/config.ts) with the files they
// mount, the paths the Dockerfile copies exist, and the RBAC (rendered by `rotator rbac`, its
// rules pinned by test/unit/rbac.test.ts) fits the inventory and the worker's ServiceAccount;
// test/integration/kube-rbac.test.ts applies it to a real apiserver (there it is shown to allow
// every operation the worker performs and to refuse the rest).
//
// NOT proven here: that the images exist and start, that `docker compose up` brings the
// stack up, that RustFS in its container accepts the admin calls. Nothing in this
// repository runs Docker.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { loadInventory, type Inventory } from '../../src/inventory';
import { loadWorkerConfig, WORKER_ENV as WORKER_CONFIG_ENV } from '../../src/worker/config';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../bench/worker-process';

const ROOT = path.join(__dirname, '..', '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
const exists = (f: string) => fs.existsSync(path.join(ROOT, f));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}
const docs = (f: string) =>
  parseAllDocuments(read(f))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((d): d is K8sObject => Boolean(d));

interface ComposeService {
  image?: string;
  ports?: string[];
  build?: string | { context: string };
  command?: string | string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };

/**
 * Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?message} (unset or empty: compose
 * refuses to start, printing the message), $$ for a literal $.
 */
function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g,
    (m, name: string, op: string | undefined, arg: string | undefined) => {
      if (m === '$$') return '$';
      const v = env[name];
      if (op === ':?' && !v) throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return v === undefined || (v === '' && op === ':-') ? (arg ?? '') : v;
    },
  );
}

/** What the user exports before `docker compose up` (the file's header says so). */
const HOST_ENV = {
  RUSTFS_ROOT_SECRET: randomBytes(20).toString('hex'),
  ROTATOR_CODEC_KEY: randomBytes(32).toString('base64'),
};

/** An image reference pinned to a tag (or digest), never `latest` or untagged. */
function assertPinned(image: string, where: string): void {
  const digest = image.includes('@sha256:');
  const lastSegment = image.split('/').at(-1)!;
  const tag = lastSegment.includes(':') ? lastSegment.split(':').at(-1)!.split('@')[0] : undefined;
  assert.ok(digest || (tag && tag !== 'latest'), `${where}: image ${image} is not pinned to a tag`);
}

/** A version against an npm range of the forms package.json uses here: ">=a.b <c || >=d". */
function satisfies(version: string, range: string): boolean {
  const v = version.split('.').map(Number);
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
    return 0;
  };
  return range.split('||').some((set) =>
    set
      .trim()
      .split(/\s+/)
      .every((c) => {
        const m = /^(>=|<=|>|<|=)?(\d+(?:\.\d+){0,2})$/.exec(c);
        assert.ok(m, `unsupported comparator ${c} in ${range}`);
        const d = cmp(v, m[2]!.split('.').map(Number));
        return { '>=': d >= 0, '<=': d <= 0, '>': d > 0, '<': d < 0, '=': d === 0 }[m[1] ?? '='];
      }),
  );
}

/** Every namespace the inventory makes the worker touch. */
function inventoryNamespaces(inv: Inventory): Set<string> {
  const ns = new Set([inv.store.rootSecret.namespace, inv.store.workload.namespace]);
  for (const z of inv.zones) {
    ns.add(z.secret.namespace);
    if (Array.isArray(z.consumers)) for (const c of z.consumers) ns.add(c.namespace);
  }
  return ns;
}

/** The worker service's environment as compose hands it over, container paths mapped to the repo's files. */
function composeWorkerEnv(host: Record<string, string | undefined>): Record<string, string> {
  const worker = compose.services.worker!;
  const mounts = new Map(
    (worker.volumes ?? []).map((v) => {
      const [src, dst] = v.split(':');
      return [dst!, path.join(ROOT, src!)];
    }),
  );
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(worker.environment ?? {})) {
    const value = interpolate(String(v ?? ''), host);
    env[k] = mounts.get(value) ?? value;
  }
  return env;
}

describe('docker-compose.yml', () => {
  test('parses; every image is pinned to a tag; dependencies and mounted files exist', () => {
    const names = Object.keys(compose.services);
    assert.deepEqual(names.sort(), ['kube', 'platform', 'rustfs', 'temporal', 'worker']);
    for (const [name, s] of Object.entries(compose.services)) {
      assert.ok(s.image || s.build, `${name}: an image or a build`);
      if (s.image) assertPinned(s.image, `service ${name}`);
      for (const dep of Object.keys(s.depends_on ?? {}))
        assert.ok(names.includes(dep), `${name} depends on unknown ${dep}`);
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('.')) assert.ok(exists(src), `${name} mounts ${src}, which does not exist`);
      }
    }
    assert.equal(compose.services.worker!.build, '.', 'the worker is built from the Dockerfile');
    // The Temporal CLI image runs `temporal` from PATH (ENTRYPOINT ["temporal"]), as user temporal.
    const temporal = compose.services.temporal!;
    assert.equal(temporal.healthcheck!.test[1], 'temporal');
    assert.ok((temporal.command as string[]).includes('--db-filename=/home/temporal/temporal.db'));
    assert.ok(temporal.volumes!.includes('temporal-data:/home/temporal'));
    for (const sa of ['RotatorZone', 'RotatorKind'])
      assert.ok((temporal.command as string[]).includes(`--search-attribute=${sa}=Keyword`));
    // The kwok cluster image is Alpine without kubectl on PATH.
    assert.equal(compose.services.kube!.healthcheck!.test[1], 'wget');
    assert.match(String((compose.services.platform!.command as string[])[0]), /find \/root\/\.kwok\/cache/);
  });

  test("the worker's environment passes the worker's configuration loader with the files compose mounts", async () => {
    const env = composeWorkerEnv(HOST_ENV);
    const config = await loadWorkerConfig(env);
    const [host, port] = config.temporal.address.split(':');
    assert.ok(compose.services[host!], `TEMPORAL_ADDRESS names the compose service ${host}`);
    assert.equal(port, '7233');
    assert.equal(config.temporal.taskQueue, 'rustfs-rotator');
    assert.ok(config.codec, 'the worker encrypts with the key exported on the host');
    assert.equal(config.kube.kubeconfig, path.join(ROOT, 'deploy/worker/compose/kubeconfig'));
    // The kubeconfig points at the kube service's insecure port.
    const kc = parse(read('deploy/worker/compose/kubeconfig')) as {
      clusters: Array<{ cluster: { server: string } }>;
    };
    const server = new URL(kc.clusters[0]!.cluster.server);
    assert.ok(compose.services[server.hostname], `kubeconfig server ${server.hostname} is a compose service`);
    assert.equal(server.port, '8080');
    // The inventory's store is the rustfs service, on the port RustFS listens on.
    const store = new URL(config.inventory.store.adminEndpoint);
    assert.equal(store.hostname, 'rustfs');
    assert.equal(`0.0.0.0:${store.port}`, compose.services.rustfs!.environment!.RUSTFS_ADDRESS);
  });

  test('safe defaults: no root secret and no codec key of its own, every published port on 127.0.0.1', () => {
    // Without them exported, compose refuses to start (and says which variable and how).
    for (const [service, variable, host] of [
      ['rustfs', 'RUSTFS_SECRET_KEY', 'RUSTFS_ROOT_SECRET'],
      ['platform', 'ROOT_SECRET', 'RUSTFS_ROOT_SECRET'],
      ['worker', 'ROTATOR_CODEC_KEY', 'ROTATOR_CODEC_KEY'],
    ] as const) {
      const raw = String(compose.services[service]!.environment![variable]);
      assert.match(
        raw,
        new RegExp(`^\\$\\{${host}:\\?[^}]*${host}[^}]*openssl rand[^}]*\\}$`),
        `${service} ${variable}`,
      );
      for (const missing of [{}, { [host]: '' }])
        assert.throws(() => interpolate(raw, missing), new RegExp(`required variable ${host}`));
      assert.equal(interpolate(raw, HOST_ENV), HOST_ENV[host]);
    }
    // No fixed secret and no empty key anywhere as a fallback.
    const text = read('docker-compose.yml');
    assert.doesNotMatch(text, /\$\{(RUSTFS_ROOT_SECRET|ROTATOR_CODEC_KEY):?-/);
    assert.doesNotMatch(text, /change-me/);
    // The worker refuses an empty key too, should compose ever hand one over.
    // Published ports: host address 127.0.0.1, on every service that publishes one.
    const published = Object.entries(compose.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => [name, String(p)] as const),
    );
    assert.deepEqual(published.map(([name]) => name).sort(), ['rustfs', 'temporal', 'temporal', 'worker']);
    for (const [name, p] of published)
      assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${p} beyond loopback`);
  });

  test('the platform job creates what the compose inventory names, with the root key RustFS starts with', async () => {
    const inv = await loadInventory(path.join(ROOT, 'deploy/worker/compose/inventory.yaml'));
    const objects = docs('deploy/worker/compose/platform.yaml');
    const namespaces = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
    for (const ns of inventoryNamespaces(inv))
      assert.ok(namespaces.has(ns), `platform.yaml creates namespace ${ns}`);
    const w = inv.store.workload;
    assert.ok(
      objects.some(
        (o) => o.kind === w.kind && o.metadata.name === w.name && o.metadata.namespace === w.namespace,
      ),
      `platform.yaml has ${w.kind} ${w.namespace}/${w.name}`,
    );
    for (const z of inv.zones) {
      if (!Array.isArray(z.consumers)) continue;
      for (const c of z.consumers)
        assert.ok(
          objects.some(
            (o) => o.kind === c.kind && o.metadata.name === c.name && o.metadata.namespace === c.namespace,
          ),
          `platform.yaml has zone ${z.name}'s consumer ${c.kind} ${c.namespace}/${c.name}`,
        );
    }
    for (const o of objects) {
      const containers =
        ((o.spec as { template?: { spec?: { containers?: Array<{ image: string }> } } })?.template?.spec
          ?.containers as Array<{ image: string }>) ?? [];
      for (const c of containers) assertPinned(c.image, `platform.yaml ${o.kind} ${o.metadata.name}`);
    }
    const platform = compose.services.platform!;
    const script = String((platform.command as string[])[0]);
    const root = inv.store.rootSecret;
    assert.ok(
      script.includes(`-n ${root.namespace} create secret generic ${root.name}`),
      'the job creates the root Secret',
    );
    // The root key: the one exported on the host, the same in the Secret and in the RustFS container.
    assert.equal(
      interpolate(String(platform.environment!.ROOT_SECRET), HOST_ENV),
      interpolate(String(compose.services.rustfs!.environment!.RUSTFS_SECRET_KEY), HOST_ENV),
    );
    assert.ok(
      script.includes(`--from-literal=access-key=${compose.services.rustfs!.environment!.RUSTFS_ACCESS_KEY}`),
    );
    assert.ok(script.includes(`--from-literal=endpoint=${inv.store.endpoint}`));
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  test('pinned base images; every path it copies exists and is not excluded from the build context', () => {
    const from = lines.filter((l) => l.startsWith('FROM '));
    assert.ok(from.length >= 1);
    for (const l of from) assertPinned(l.split(/\s+/)[1]!, l);
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const copies = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    assert.ok(copies.length >= 4);
    for (const l of copies) {
      const sources = l.split(/\s+/).slice(1, -1);
      for (const src of sources) {
        assert.ok(exists(src), `${l}: ${src} does not exist`);
        assert.ok(!ignored.includes(src.replace(/\/$/, '')), `${l}: ${src} is excluded by .dockerignore`);
      }
    }
  });

  test('the image runs a supported Node line (>= 22, LTS); engines allows it and still allows 20 for development', () => {
    const from = lines.filter((l) => l.startsWith('FROM '));
    const majors = from.map((l) => {
      const image = l.split(/\s+/)[1]!;
      const m = /^node:(\d+)(?:\.\d+){0,2}-/.exec(image);
      assert.ok(m, `${l}: an official node image with its major version`);
      return Number(m[1]);
    });
    // Build and runtime on one line: native modules are built for the Node that runs them.
    assert.equal(new Set(majors).size, 1, from.join('; '));
    const major = majors[0]!;
    assert.ok(
      major >= 22 && major % 2 === 0,
      `node:${major} is not a supported LTS line (Node 20 is past end of life)`,
    );
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    assert.ok(satisfies(`${major}.0.0`, engines), `engines "${engines}" allows the image's Node ${major}`);
    assert.ok(satisfies('20.19.0', engines), `engines "${engines}" still allows Node 20 (CI machines)`);
    assert.match(read('Dockerfile'), /engines/, 'the Dockerfile says why engines and the image differ');
  });

  test('the worker runs with the memory settings benchmark 5 measured', () => {
    const env = lines.find((l) => l.startsWith('ENV NODE_OPTIONS='))!;
    assert.ok(env, 'ENV NODE_OPTIONS=… in the runtime stage');
    assert.equal(/NODE_OPTIONS="([^"]*)"/.exec(env)?.[1], WORKER_NODE_FLAGS.join(' '));
    for (const [k, v] of Object.entries(WORKER_ENV)) assert.match(env, new RegExp(`\\b${k}=${v}\\b`));
  });

  test('the entry point is the worker built from src/worker/main.ts; it runs as the uid the Deployment expects', () => {
    const entry = lines.find((l) => l.startsWith('ENTRYPOINT '))!;
    const [cmd, script] = JSON.parse(entry.slice('ENTRYPOINT '.length)) as string[];
    assert.equal(cmd, 'node');
    const build = JSON.parse(read('tsconfig.build.json')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    assert.ok(script!.startsWith(`${build.compilerOptions.outDir}/`), `${script} is in the build output`);
    const source = script!
      .replace(`${build.compilerOptions.outDir}/`, `${build.compilerOptions.rootDir}/`)
      .replace(/\.js$/, '.ts');
    assert.equal(source, 'src/worker/main.ts');
    assert.match(
      read(source),
      /if \(require\.main === module\) void main\(\);/,
      'running the file starts the worker',
    );
    // The build step compiles exactly that config; the CLI ships too (bin/rotator.js → dist/cli.js).
    assert.ok(lines.includes('RUN npx tsc -p tsconfig.build.json'));
    assert.ok(exists('src/cli.ts') && exists('bin/rotator.js'));
    assert.match(read('bin/rotator.js'), /dist', 'cli\.js'/);
    // `USER node` is uid 1000 in the official node images; the Deployment pins that uid.
    assert.ok(lines.includes('USER node'));
    const deployment = docs('deploy/worker/deployment.yaml').find((o) => o.kind === 'Deployment')!;
    const pod = (deployment.spec as { template: { spec: { securityContext: { runAsUser: number } } } })
      .template.spec;
    assert.equal(pod.securityContext.runAsUser, 1000);
  });
});

describe('deploy/', () => {
  test("deploy/worker/deployment.yaml: the pod's environment passes the worker's configuration loader; identity, grace, hardening", async () => {
    const objects = docs('deploy/worker/deployment.yaml');
    assert.deepEqual(
      objects.map((o) => o.kind),
      ['Deployment'],
    );
    const d = objects[0]!;
    interface Container {
      image: string;
      env: Array<{ name: string; value: string }>;
      envFrom: Array<{ secretRef: { name: string } }>;
      volumeMounts: Array<{ name: string; mountPath: string }>;
      securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
    }
    const pod = (
      d.spec as {
        template: {
          spec: {
            serviceAccountName: string;
            terminationGracePeriodSeconds: number;
            securityContext: { runAsNonRoot: boolean };
            containers: Container[];
            volumes: Array<{ name: string; configMap: { name: string } }>;
          };
        };
      }
    ).template.spec;
    const c = pod.containers[0]!;
    assertPinned(c.image, 'deployment');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(pod.securityContext.runAsNonRoot, true);

    // The ServiceAccount the RBAC binds, in its namespace.
    const sa = docs('deploy/rbac/serviceaccount.yaml').find((o) => o.kind === 'ServiceAccount')!;
    assert.equal(pod.serviceAccountName, sa.metadata.name);
    assert.equal(d.metadata.namespace, sa.metadata.namespace);

    // The inventory reaches the pod as the ConfigMap `kubectl create configmap <name>
    // --from-file=inventory.yaml=<inventory>` makes: one key, inventory.yaml. Mounted as the
    // Deployment mounts it (every key a file under mountPath, unless items remap them), that
    // key is the file ROTATOR_CONFIG names.
    const mount = c.volumeMounts[0]!;
    const volume = pod.volumes.find((v) => v.name === mount.name)!;
    assert.ok(volume.configMap.name, 'the inventory comes from a ConfigMap');
    const items = (volume.configMap as { items?: Array<{ key: string; path: string }> }).items;
    const mountedAs = (key: string) => items?.find((i) => i.key === key)?.path ?? (items ? undefined : key);
    const inventoryFile = mountedAs('inventory.yaml');
    assert.ok(inventoryFile, 'the key inventory.yaml is mounted');
    assert.equal(
      path.posix.join(mount.mountPath, inventoryFile),
      c.env.find((e) => e.name === 'ROTATOR_CONFIG')?.value,
    );
    // The env Secret is required: a pod without it does not start (no silent plaintext payloads).
    for (const ref of c.envFrom)
      assert.notEqual(
        (ref.secretRef as { optional?: boolean }).optional,
        true,
        `envFrom ${ref.secretRef.name} must not be optional`,
      );
    // The env Secret the pod reads is the one secret.example.yaml describes, and each of its keys
    // is a variable the worker reads (a misspelt key would be silently ignored in the pod).
    const envSecret = c.envFrom[0]!.secretRef.name;
    const example = docs('deploy/worker/secret.example.yaml')[0]!;
    assert.equal(example.metadata.name, envSecret);
    assert.equal(example.metadata.namespace, d.metadata.namespace);
    const exampleKeys = Object.keys((example as { stringData?: Record<string, string> }).stringData ?? {});
    assert.ok(exampleKeys.length > 0);
    for (const key of exampleKeys)
      assert.ok(key in WORKER_CONFIG_ENV, `${key} is a variable the worker reads`);

    // In the pod: KUBERNETES_SERVICE_HOST set, no KUBECONFIG, the ConfigMap's file mounted.
    const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: '10.96.0.1' };
    for (const e of c.env) env[e.name] = e.value;
    assert.equal(env.KUBECONFIG, undefined);
    assert.equal(env.ROTATOR_CONFIG, `${mount.mountPath}/inventory.yaml`);
    env.ROTATOR_CONFIG = path.join(ROOT, 'config/dashi.yaml');
    // Without the env Secret's codec key the worker refuses to start, naming it.
    await assert.rejects(loadWorkerConfig(env), /ROTATOR_CODEC_KEY: not set/);
    env.ROTATOR_CODEC_KEY = randomBytes(32).toString('base64'); // from the env Secret
    const config = await loadWorkerConfig(env);
    assert.deepEqual(config.kube, { inCluster: true });
    assert.ok(config.codec);
    assert.ok(
      pod.terminationGracePeriodSeconds * 1000 > config.shutdownGraceMs,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}s exceeds ROTATOR_SHUTDOWN_GRACE`,
    );
  });

  test('deploy/rbac: namespaced Roles for exactly the namespaces the inventory names, bound to the worker, no wildcard', async () => {
    // What each Role grants (Secrets and workloads by name) is test/unit/rbac.test.ts's: the
    // files are rendered by `rotator rbac`. Here: they fit the worker Deployment and inventory.
    const inv = await loadInventory(path.join(ROOT, 'config/dashi.yaml'));
    const files = ['serviceaccount.yaml', 'role.yaml', 'rolebinding.yaml', 'admission-policies.yaml'];
    assert.deepEqual(
      fs
        .readdirSync(path.join(ROOT, 'deploy/rbac'))
        .filter((f) => f.endsWith('.yaml'))
        .sort(),
      [...files].sort(),
    );
    const objects = files.flatMap((f) => docs(`deploy/rbac/${f}`));
    for (const o of objects)
      assert.ok(
        [
          'Namespace',
          'ServiceAccount',
          'Role',
          'RoleBinding',
          'ValidatingAdmissionPolicy',
          'ValidatingAdmissionPolicyBinding',
        ].includes(o.kind),
        `unexpected ${o.kind}`,
      );
    const sa = objects.find((o) => o.kind === 'ServiceAccount')!;
    const roles = objects.filter((o) => o.kind === 'Role');
    const bindings = objects.filter((o) => o.kind === 'RoleBinding');
    assert.deepEqual(
      new Set(roles.map((r) => r.metadata.namespace)),
      // And approvals.namespace, where the worker reads RotationDecisions.
      new Set([...inventoryNamespaces(inv), inv.approvals.namespace]),
      'one Role per namespace the inventory names, and no other',
    );
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    for (const role of roles) {
      const ns = role.metadata.namespace!;
      for (const r of role.rules as Rule[])
        for (const x of [...r.apiGroups, ...r.resources, ...r.verbs]) assert.notEqual(x, '*', 'no wildcard');
      const binding = bindings.find((b) => b.metadata.namespace === ns);
      assert.ok(binding, `a RoleBinding in ${ns}`);
      assert.deepEqual(binding.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: role.metadata.name,
      });
      assert.deepEqual(binding.subjects, [
        { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
      ]);
    }
    assert.equal(bindings.length, roles.length);
    // The admission policies apply to that same ServiceAccount.
    for (const p of objects.filter((o) => o.kind === 'ValidatingAdmissionPolicy'))
      assert.match(
        JSON.stringify(p),
        new RegExp(`system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}'`),
      );
  });
});
