import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  Watch,
} from '@kubernetes/client-node';

export interface KubeConnectionOptions {
  /** Path of a kubeconfig file; its current context is used. */
  kubeconfig?: string;
  /** API server URL; with `token` builds a config without any file. */
  server?: string;
  /** Bearer token; overrides the kubeconfig user's credentials when both are given. */
  token?: string;
  /** PEM CA bundle that signed the apiserver's serving certificate. */
  caFile?: string;
  /** Use the pod's ServiceAccount (the worker's normal mode in a cluster). */
  inCluster?: boolean;
}

/**
 * One place decides where credentials come from, so activities, the CLI and tests connect
 * the same way: in-cluster ServiceAccount, explicit server+token, a kubeconfig file, or the
 * default loading rules ($KUBECONFIG, ~/.kube/config).
 */
export function loadKubeConfig(opts: KubeConnectionOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.inCluster) {
    kc.loadFromCluster();
  } else if (opts.server) {
    const cluster = { name: 'rotator', server: opts.server, caFile: opts.caFile, skipTLSVerify: false };
    const user = { name: 'rotator', token: opts.token };
    kc.loadFromOptions({
      clusters: [cluster],
      users: [user],
      contexts: [{ name: 'rotator', cluster: cluster.name, user: user.name }],
      currentContext: 'rotator',
    });
    return kc;
  } else if (opts.kubeconfig) {
    kc.loadFromFile(opts.kubeconfig);
  } else {
    kc.loadFromDefault();
  }
  if (opts.token) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster to attach the token to');
    kc.loadFromClusterAndUser(
      { ...cluster, caFile: opts.caFile ?? cluster.caFile },
      { name: 'rotator-token', token: opts.token },
    );
  }
  return kc;
}

/** The API clients the kube operations need, built once per identity. */
export interface Kube {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  networking: NetworkingV1Api;
  watch: Watch;
}

export function createKube(kc: KubeConfig): Kube {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    watch: new Watch(kc),
  };
}
