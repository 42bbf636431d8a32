import { createKube, loadKubeConfig, readSecret } from '../kube';
import { createS3, isAdminError } from '../rustfs';
import { type SandboxState } from './state';

export interface ConsumerReport {
  requests: number;
  failures: number;
  /** Longest run of consecutive failures, in ms. */
  longestFailureMs: number;
  credentialsSeen: number;
  errors: string[];
}

export interface ConsumerProbeOptions {
  namespace: string;
  secret: string;
  deployment: string;
  bucket: string;
  intervalMs?: number;
}

/**
 * Plays a consumer pod of a Deployment: it issues S3 reads continuously with the
 * credential it holds, and re-reads the Secret only when its Deployment rolls (the
 * restartedAt annotation changes), as a restarted pod would — never before. Used by the
 * demo and the tests to measure what a consumer experiences during a rotation.
 */
export function startConsumerLoop(stack: Pick<SandboxState, 'kube' | 'store'>, opts: ConsumerProbeOptions) {
  const kube = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
  let stopped = false;
  const report: ConsumerReport = {
    requests: 0,
    failures: 0,
    longestFailureMs: 0,
    credentialsSeen: 0,
    errors: [],
  };
  const restartedAt = async () => {
    const d = await kube.apps.readNamespacedDeployment({ name: opts.deployment, namespace: opts.namespace });
    return d.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'] ?? '';
  };
  const readCred = async () => {
    const s = await readSecret(kube, opts.namespace, opts.secret);
    if (!s) throw new Error(`Secret ${opts.namespace}/${opts.secret} does not exist`);
    return s.data;
  };
  const done = (async () => {
    let generation = await restartedAt();
    let cred = await readCred();
    report.credentialsSeen = 1;
    let failingSince: number | undefined;
    let lastRollCheck = 0;
    while (!stopped) {
      if (Date.now() - lastRollCheck > 200) {
        lastRollCheck = Date.now();
        const now = await restartedAt();
        if (now !== generation) {
          generation = now;
          cred = await readCred();
          report.credentialsSeen += 1;
        }
      }
      const s3 = createS3({
        endpoint: stack.store.endpoint,
        credentials: { accessKey: cred['access-key']!, secretKey: cred['secret-key']! },
        maxAttempts: 1,
      });
      report.requests += 1;
      try {
        await s3.listObjects(opts.bucket);
        if (failingSince !== undefined) {
          report.longestFailureMs = Math.max(report.longestFailureMs, Date.now() - failingSince);
          failingSince = undefined;
        }
      } catch (err) {
        report.failures += 1;
        failingSince ??= Date.now();
        if (report.errors.length < 5) report.errors.push(isAdminError(err) ? err.code : String(err));
      } finally {
        s3.close();
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
    }
    if (failingSince !== undefined)
      report.longestFailureMs = Math.max(report.longestFailureMs, Date.now() - failingSince);
  })();
  return {
    /** What the loop has seen so far, while it goes on. */
    progress(): ConsumerReport {
      return { ...report, errors: [...report.errors] };
    },
    async stop(): Promise<ConsumerReport> {
      stopped = true;
      await done;
      return report;
    },
  };
}
