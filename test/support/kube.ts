import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { type SandboxState } from '../../src/sandbox/state';

/** Admin clients for the sandbox's apiserver, for test set-up and assertions. */
export function adminKube(stack: SandboxState) {
  const kc = new KubeConfig();
  kc.loadFromFile(stack.kube.kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** A KubeConfig for an arbitrary bearer token against the sandbox. */
export function kubeConfigForToken(stack: SandboxState, token: string, user = 'test-user'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'sandbox', server: stack.kube.server, caFile: stack.kube.caFile, skipTLSVerify: false },
    ],
    users: [{ name: user, token }],
    contexts: [{ name: 'sandbox', cluster: 'sandbox', user }],
    currentContext: 'sandbox',
  });
  return kc;
}

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

export async function readSecretData(stack: SandboxState, namespace: string, name: string) {
  const { core } = adminKube(stack);
  const s = await core.readNamespacedSecret({ name, namespace });
  return Object.fromEntries(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
