// The approvals of deploy/approvals/ on the sandbox's apiserver, for a test of its own: the CRD
// (cluster-scoped, one per cluster: created once, left in place), the admission policy and the
// ClusterRoles under this test's prefix (removed by cleanup), decisions in the test's own
// namespace; and people, as ServiceAccounts with tokens and kubeconfig files of their own.
import fs from 'node:fs';
import path from 'node:path';
import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { APPROVAL_OBJECT_NAMES, renderApprovals } from '../../src/approvals/render';
import { parseInventory } from '../../src/inventory';
import { createKube, loadKubeConfig, type Kube } from '../../src/kube/client';
import { createNamespace, deleteNamespace } from './kube-fixtures';
import { type SandboxState } from '../../src/sandbox/state';
import { DASHI_YAML } from './dashi';

export interface Person {
  /** The username the apiserver authenticates this person as. */
  user: string;
  kube: Kube;
  /** A kubeconfig file holding this person's token (for the CLI's --kubeconfig). */
  kubeconfig: string;
}

export interface Approvals {
  namespace: string;
  /** A ServiceAccount in the approvals namespace bound to these ClusterRoles there (by their base name). */
  person(name: string, roles: Array<keyof typeof APPROVAL_OBJECT_NAMES>): Promise<Person>;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function installApprovals(stack: SandboxState, prefix: string, dir: string): Promise<Approvals> {
  const admin = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
  const namespace = `${prefix}-approvals`;
  const inventory = parseInventory(DASHI_YAML, 'config/dashi.yaml');
  inventory.approvals = { ...inventory.approvals, namespace };
  const renamed = (name: string) => `${prefix}-${name}`;
  const objects = KubernetesObjectApi.makeApiClient(admin.kc);
  const created: KubernetesObject[] = [];
  await createNamespace(admin, namespace);
  for (const o of renderApprovals(inventory).objects) {
    if (o.kind === 'Namespace') continue;
    if (o.kind === 'CustomResourceDefinition') {
      await objects.create(o).catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });
      continue;
    }
    const obj = JSON.parse(JSON.stringify(o)) as KubernetesObject & { spec?: { policyName?: string } };
    obj.metadata!.name = renamed(obj.metadata!.name!);
    if (obj.spec?.policyName) obj.spec.policyName = renamed(obj.spec.policyName);
    created.push(await objects.create(obj));
  }
  const ext = admin.kc.makeApiClient(ApiextensionsV1Api);
  for (let i = 0; ; i++) {
    const crd = await ext.readCustomResourceDefinition({ name: APPROVAL_OBJECT_NAMES.crd });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
    if (i > 100) throw new Error(`${APPROVAL_OBJECT_NAMES.crd} not established within 10 s`);
    await sleep(100);
  }
  const rbac = admin.kc.makeApiClient(RbacAuthorizationV1Api);
  return {
    namespace,
    async person(name, roles) {
      await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
      for (const role of roles)
        await rbac.createNamespacedRoleBinding({
          namespace,
          body: {
            metadata: { name: `${name}-${role}` },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'ClusterRole',
              name: renamed(APPROVAL_OBJECT_NAMES[role]),
            },
            subjects: [{ kind: 'ServiceAccount', name, namespace }],
          },
        });
      const tr = await admin.core.createNamespacedServiceAccountToken({
        name,
        namespace,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      const token = tr.status!.token;
      const kubeconfig = path.join(dir, `${name}.kubeconfig`);
      fs.writeFileSync(
        kubeconfig,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'sandbox',
              cluster: { server: stack.kube.server, 'certificate-authority': stack.kube.caFile },
            },
          ],
          users: [{ name, user: { token } }],
          contexts: [{ name: 'sandbox', context: { cluster: 'sandbox', user: name } }],
          'current-context': 'sandbox',
        }),
        { mode: 0o600 },
      );
      return {
        user: `system:serviceaccount:${namespace}:${name}`,
        kube: createKube(loadKubeConfig({ kubeconfig })),
        kubeconfig,
      };
    },
    async cleanup() {
      for (const o of created.reverse()) await objects.delete(o).catch(() => undefined);
      await deleteNamespace(admin, namespace).catch(() => undefined);
    },
  };
}
