// A bounded, loopback-only load generator that behaves like the consumers of a zone Secret.
//
// Two models, run side by side:
// - `pods`: the fleet as Kubernetes runs it. Before each request it lists the Deployment's
//   running pods and lets them take turns; a pod uses the credential the Secret held when
//   the pod was first seen (a pod resolves envFrom once, at start). Old pods keep the old key
//   until the rollout removes them — the strictest test of "no consumer ever holds a dead key".
// - `restartedAt`: one client that re-reads the Secret as soon as the Deployment's
//   restartedAt annotation changes (what test/support/consumer.ts does): the earliest any
//   consumer could possibly switch.
import { type S3Ops, createS3, isAdminError } from '../src/rustfs';
import { type SandboxState } from '../src/sandbox/state';
import { adminKube, readSecretData } from '../test/support/kube';
import { FailureWindows, sleep } from './lib';

export interface LoadOptions {
  namespace: string;
  deployment: string;
  secret: string;
  bucket: string;
  model: 'pods' | 'restartedAt';
  intervalMs?: number;
  /** Hard bounds: the loop stops by itself after either. */
  maxMs?: number;
  maxRequests?: number;
}

export type LoadReport = ReturnType<FailureWindows['report']> & {
  model: LoadOptions['model'];
  credentialsSeen: number;
  podsSeen: number;
};

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export function startLoad(stack: SandboxState, opts: LoadOptions) {
  const { core, apps } = adminKube(stack);
  const windows = new FailureWindows();
  const clients = new Map<string, S3Ops>();
  const credOfPod = new Map<string, Record<string, string>>();
  const seenKeys = new Set<string>();
  let stopped = false;
  const maxMs = opts.maxMs ?? 180_000;
  const maxRequests = opts.maxRequests ?? 20_000;
  const started = Date.now();

  const s3For = (cred: Record<string, string>) => {
    const key = `${cred['access-key']}:${cred['secret-key']}`;
    seenKeys.add(key);
    let c = clients.get(key);
    if (!c) {
      c = createS3({
        endpoint: stack.store.endpoint,
        credentials: { accessKey: cred['access-key']!, secretKey: cred['secret-key']! },
        maxAttempts: 1,
        timeoutMs: 5000,
      });
      clients.set(key, c);
    }
    return c;
  };

  const restartedAt = async () => {
    const d = await apps.readNamespacedDeployment({ name: opts.deployment, namespace: opts.namespace });
    return d.spec?.template.metadata?.annotations?.[RESTARTED_AT] ?? '';
  };

  const done = (async () => {
    let turn = 0;
    let generation = opts.model === 'restartedAt' ? await restartedAt() : '';
    let single = await readSecretData(stack, opts.namespace, opts.secret);
    let lastCheck = 0;
    while (!stopped && Date.now() - started < maxMs && windows.requests < maxRequests) {
      let cred: Record<string, string> | undefined;
      if (opts.model === 'pods') {
        const pods = (
          await core.listNamespacedPod({ namespace: opts.namespace, labelSelector: `app=${opts.deployment}` })
        ).items
          .filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp)
          .sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
        for (const p of pods) {
          const uid = p.metadata!.uid!;
          if (!credOfPod.has(uid))
            credOfPod.set(uid, await readSecretData(stack, opts.namespace, opts.secret));
        }
        const pod = pods[turn++ % Math.max(pods.length, 1)];
        cred = pod ? credOfPod.get(pod.metadata!.uid!) : undefined;
      } else {
        if (Date.now() - lastCheck > 100) {
          lastCheck = Date.now();
          const now = await restartedAt();
          if (now !== generation) {
            generation = now;
            single = await readSecretData(stack, opts.namespace, opts.secret);
          }
        }
        cred = single;
      }
      if (cred) {
        try {
          await s3For(cred).listObjects(opts.bucket);
          windows.ok();
        } catch (err) {
          windows.fail(isAdminError(err) ? err.code : String(err));
        }
      }
      await sleep(opts.intervalMs ?? 25);
    }
    windows.finish();
  })();

  return {
    async stop(): Promise<LoadReport> {
      stopped = true;
      await done;
      for (const c of clients.values()) c.close();
      return {
        model: opts.model,
        ...windows.report(),
        credentialsSeen: seenKeys.size,
        podsSeen: credOfPod.size,
      };
    },
  };
}
