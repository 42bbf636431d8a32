import { type CoreV1Api, type V1Container } from '@kubernetes/client-node';

/** What the kubelet could not resolve: the container does not start (CreateContainerConfigError). */
export class PodEnvError extends Error {}

const notFound = (err: unknown) => (err as { code?: number }).code === 404;

/**
 * A container's environment as the kubelet resolves it: `envFrom` Secrets and ConfigMaps first,
 * then `env` entries (plain values, secretKeyRef, configMapKeyRef) over them. A missing source or
 * key fails unless it is marked optional. Other value sources (fieldRef, resourceFieldRef) are
 * not used by the store's pods and are refused by name.
 */
export async function resolveContainerEnv(
  core: CoreV1Api,
  namespace: string,
  container: V1Container,
): Promise<Record<string, string>> {
  const secrets = new Map<string, Record<string, string> | null>();
  const configMaps = new Map<string, Record<string, string> | null>();
  const secret = async (name: string) => {
    if (!secrets.has(name)) {
      try {
        const s = await core.readNamespacedSecret({ name, namespace });
        secrets.set(
          name,
          Object.fromEntries(
            Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
          ),
        );
      } catch (err) {
        if (!notFound(err)) throw err;
        secrets.set(name, null);
      }
    }
    return secrets.get(name)!;
  };
  const configMap = async (name: string) => {
    if (!configMaps.has(name)) {
      try {
        configMaps.set(name, (await core.readNamespacedConfigMap({ name, namespace })).data ?? {});
      } catch (err) {
        if (!notFound(err)) throw err;
        configMaps.set(name, null);
      }
    }
    return configMaps.get(name)!;
  };

  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const [kind, ref] = from.secretRef ? ['Secret', from.secretRef] : ['ConfigMap', from.configMapRef];
    if (!ref) continue;
    const data = kind === 'Secret' ? await secret(ref.name!) : await configMap(ref.name!);
    if (!data) {
      if (ref.optional) continue;
      throw new PodEnvError(`${kind} ${namespace}/${ref.name} not found (envFrom)`);
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined || !e.valueFrom) {
      env[e.name] = e.value ?? '';
      continue;
    }
    const { secretKeyRef, configMapKeyRef } = e.valueFrom;
    const [kind, ref] = secretKeyRef
      ? ['Secret', secretKeyRef]
      : configMapKeyRef
        ? ['ConfigMap', configMapKeyRef]
        : [undefined, undefined];
    if (!kind || !ref) throw new PodEnvError(`env ${e.name}: only values, secretKeyRef and configMapKeyRef`);
    const data = kind === 'Secret' ? await secret(ref.name!) : await configMap(ref.name!);
    const value = data?.[ref.key];
    if (value === undefined) {
      if (ref.optional) continue;
      throw new PodEnvError(
        data
          ? `couldn't find key ${ref.key} in ${kind} ${namespace}/${ref.name} (env ${e.name})`
          : `${kind} ${namespace}/${ref.name} not found (env ${e.name})`,
      );
    }
    env[e.name] = value;
  }
  return env;
}
