import fs from 'node:fs';
import { type Command } from 'commander';
import { z } from 'zod';
import { startSandbox } from '../sandbox/sandbox';
import { parseStoreNodes, STORE_NODES_ENV } from '../sandbox/store-process';
import { type SandboxState } from '../sandbox/state';
import { emit } from './output';

const options = z.object({
  stateFile: z.string().optional(),
  keep: z.boolean().default(false),
  json: z.boolean().default(false),
  quietEndpoints: z.boolean().default(false),
  storeNodes: z.string().optional(),
});

export function describeEndpoints(s: SandboxState): string {
  return [
    `Temporal Web UI     ${s.temporal.uiUrl}`,
    `Temporal address    ${s.temporal.address}  (namespace ${s.temporal.namespace})`,
    `kubeconfig          ${s.kube.kubeconfig}  (kubectl --kubeconfig ${s.kube.kubeconfig} get pods -A)`,
    `Kubernetes API      ${s.kube.server}`,
    `object store        ${s.store.endpoint}  (${s.store.kind}${s.store.nodes ? `, ${s.store.nodes.length} nodes behind this load balancer` : ''}; root key in Secret ${s.store.rootSecret.namespace}/${s.store.rootSecret.name})`,
    ...(s.store.nodes ?? []).map((n) => `  store node        ${n.endpoint}  (pod ${n.pod})`),
    ...(s.codec
      ? [
          `codec server        ${s.codec.endpoint}  (the Web UI decodes payloads through it; key id ${s.codec.keyId}, the key is in the state file)`,
        ]
      : []),
    ...(s.metrics
      ? [
          `worker metrics      ${s.metrics.url}  (served by a worker started with ROTATOR_SANDBOX_STATE, e.g. the demo's)`,
        ]
      : []),
    `node agent          ${s.agent.url}/state`,
    `data and logs       ${s.dir}`,
  ].join('\n');
}

/** Resolves when SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export function registerSandbox(program: Command): void {
  const sandbox = program.command('sandbox').description('the local stack of real components (docs/developing.md "The sandbox")');
  sandbox
    .command('up')
    .description('start Temporal, a Kubernetes control plane with kwok, the object store and its node agent')
    .option(
      '--state-file <path>',
      'also write the stack state (endpoints, kubeconfig) to this file once ready',
    )
    .option('--keep', 'keep the data and log directory after stopping')
    .option('--quiet-endpoints', 'do not print the endpoint table (used by the test runner)')
    .option('--json', 'print the state as JSON')
    .option(
      '--store-nodes <n>',
      `store nodes: 1, or 4 to 16 for a distributed store (one process per StatefulSet pod, behind a loopback load balancer) (env ${STORE_NODES_ENV}; default 1)`,
    )
    .action(async (raw) => {
      const opts = options.parse(raw);
      const storeNodes =
        opts.storeNodes !== undefined
          ? parseStoreNodes(opts.storeNodes, '--store-nodes')
          : parseStoreNodes(process.env[STORE_NODES_ENV]);
      const box = await startSandbox({ keepDir: opts.keep, storeNodes });
      const stop = untilSignal();
      try {
        if (opts.stateFile) fs.copyFileSync(box.stateFile, opts.stateFile);
        if (!opts.quietEndpoints) {
          emit(opts, box.state, (s) => `Sandbox up.\n${describeEndpoints(s)}\nCtrl-C stops everything.`);
        }
        await stop;
      } finally {
        await box.stop();
      }
    });
}
