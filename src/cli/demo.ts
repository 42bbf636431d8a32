// `rotator demo`: the main job on a fresh machine. Local stack up, a worker running in
// this process, BootstrapCluster, a zone rotation while a consumer keeps serving, a root
// rotation through its approval gate, then a short summary — and the stack stays up
// (worker included, so the Web UI can start more runs) until Ctrl-C.
import { type Client } from '@temporalio/client';
import { type Command } from 'commander';
import { z } from 'zod';
import { findZone, type Inventory } from '../inventory';
import { startConsumerLoop, type ConsumerReport } from '../sandbox/consumer-probe';
import { startSandbox, type Sandbox } from '../sandbox/sandbox';
import { SANDBOX_STATE_ENV, type SandboxState } from '../sandbox/state';
import { CODEC_KEY_ENV, CODEC_KEY_ID_ENV } from '../temporal/codec';
import { DEFAULT_TASK_QUEUE } from '../temporal/data-converter';
import { startWorker, type RunningWorker } from '../worker/main';
import { loadWorkerConfig, readSandboxState } from '../worker/config';
import { approveUpdate } from '../workflows/definitions';
import { type WorkflowResult } from '../workflows/types';
import { connect, resolveConnection, whoami, type ResolvedConnection } from './connection';
import { follow } from './follow';
import { CliError, emit, EXIT, ms } from './output';
import { describeEndpoints, untilSignal } from './sandbox';
import { startPrepared, webUiLink } from './start-workflow';
import { prepareStart } from './workflow-input';

const options = z.object({
  sandbox: z.string().optional(),
  taskQueue: z.string().optional(),
  zone: z.string().default('serving'),
  grace: z.string().default('5s'),
  restartTimeout: z.string().default('60s'),
  exit: z.boolean().default(false),
  json: z.boolean().default(false),
});

export interface DemoSummary {
  zone: {
    zone: string;
    workflowId: string;
    previousFingerprint?: string;
    newFingerprint?: string;
    restarted: string[];
    revoked?: string;
    consumer: ConsumerReport & { workload: string };
  };
  /** The store the demo ran on, as RotateRoot's preflight found it. */
  store: { kind: string; version: string; iamSurvivesRootChange?: boolean };
  root: {
    workflowId: string;
    previousFingerprint?: string;
    /** A store that lost IAM on the root change: how long zone keys were refused. */
    zoneKeysRefusedMs?: number;
    newFingerprint?: string;
    approvedBy: string;
    storeUnavailableMs: number;
    consumerDuringRoot: ConsumerReport;
  };
  bootstrap: { workflowId: string; summary: string };
  webUi: string;
  /** The worker's /metrics, when it serves them (the sandbox reserves the address). */
  metrics?: string;
  /** How payloads are protected and who decodes them for the Web UI. */
  payloads: { encrypted: boolean; keyId?: string; codecServer?: string };
  historyCommands: string[];
  sandboxStateFile: string;
}

/** Measures how long the store answers nothing while its StatefulSet restarts. */
function storeProbe(state: SandboxState) {
  const url = `${state.store.endpoint}${state.store.kind === 'minio' ? '/minio/health/live' : '/health'}`;
  let stopped = false;
  let downSince: number | undefined;
  let totalDown = 0;
  const done = (async () => {
    while (!stopped) {
      let up = false;
      try {
        up = (await fetch(url, { signal: AbortSignal.timeout(500) })).ok;
      } catch {
        up = false;
      }
      const now = Date.now();
      if (!up) downSince ??= now;
      else if (downSince !== undefined) {
        totalDown += now - downSince;
        downSince = undefined;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (downSince !== undefined) totalDown += Date.now() - downSince;
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return totalDown;
    },
  };
}

async function run(
  client: Client,
  conn: ResolvedConnection,
  inventory: Inventory,
  workflow: string,
  flags: object,
  onAwaitingApproval?: () => Promise<void>,
) {
  const prepared = prepareStart(workflow, flags, inventory);
  const handle = await startPrepared(client, conn.taskQueue, prepared);
  let approved = false;
  const followed = await follow(handle, {
    write: (t) => process.stderr.write(t),
    tty: Boolean(process.stderr.isTTY),
    onStatus: async (s) => {
      if (s.phase === 'awaiting-approval' && onAwaitingApproval && !approved) {
        approved = true;
        await onAwaitingApproval();
      }
    },
  });
  if (followed.error !== undefined) {
    const e = followed.error as { cause?: { message?: string }; message?: string };
    throw new CliError(
      `${prepared.workflowId} failed: ${e.cause?.message ?? e.message}; inspect: rotator history ${prepared.workflowId}`,
      EXIT.workflowFailed,
    );
  }
  return { workflowId: prepared.workflowId, result: followed.result as WorkflowResult, handle };
}

export function renderSummary(s: DemoSummary): string {
  const z = s.zone;
  return [
    '',
    '═══ Summary ═══',
    `Store: ${s.store.kind} ${s.store.version}` +
      (s.store.iamSurvivesRootChange === false ? ' (loses IAM on a root change: zones are re-created)' : ''),
    'What rotated:',
    `  zone ${z.zone}: ${z.previousFingerprint ?? '?'} → ${z.newFingerprint ?? '?'} (restarted ${z.restarted.join(', ') || 'nothing'}; previous key ${z.revoked ? 'revoked' : 'kept'})`,
    `  root:        ${s.root.previousFingerprint ?? '?'} → ${s.root.newFingerprint ?? '?'} (approved by ${s.root.approvedBy})`,
    'Downtime observed:',
    `  consumer ${z.consumer.workload} during the zone rotation: ${z.consumer.failures} failed of ${z.consumer.requests} requests (moved to the new key: ${z.consumer.credentialsSeen >= 2 ? 'yes' : 'no'})`,
    `  store during the root rotation: ${ms(s.root.storeUnavailableMs)} unavailable while its single replica restarted` +
      ` (consumer: ${s.root.consumerDuringRoot.failures} failed of ${s.root.consumerDuringRoot.requests})`,
    ...(s.root.zoneKeysRefusedMs !== undefined
      ? [
          `  zone keys after the store was back: refused for ${ms(s.root.zoneKeysRefusedMs)} until every zone was re-created`,
        ]
      : []),
    `Web UI: ${s.webUi}`,
    ...(s.metrics ? [`Metrics: ${s.metrics} (alert rules and a Grafana dashboard: deploy/monitoring/)`] : []),
    s.payloads.encrypted
      ? `Payloads: AES-GCM encrypted (key id ${s.payloads.keyId})${s.payloads.codecServer ? `; the Web UI decodes them through the codec server ${s.payloads.codecServer}` : ''}`
      : 'Payloads: not encrypted (no codec key)',
    'Inspect a run:',
    ...s.historyCommands.map((c) => `  ${c}`),
  ].join('\n');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job: sandbox up, worker, BootstrapCluster, zone rotation under load, root rotation, summary',
    )
    .option(
      '--sandbox <state.json>',
      `use a running sandbox instead of starting one (env ${SANDBOX_STATE_ENV})`,
    )
    .option('--task-queue <queue>', `task queue of the in-process worker (default "${DEFAULT_TASK_QUEUE}")`)
    .option('--zone <zone>', 'the zone rotated while a consumer keeps serving', 'serving')
    .option('--grace <duration>', 'grace of the zone rotation before the previous key is revoked', '5s')
    .option('--restart-timeout <duration>', 'restart window of the root rotation', '60s')
    .option('--exit', 'stop at the end instead of waiting for Ctrl-C (also when CI=true)')
    .option('--json', 'print the summary as JSON (progress goes to stderr)')
    .action(async (raw: unknown) => {
      const opts = options.parse(raw);
      const exitAtEnd = opts.exit || process.env.CI === 'true';
      const stateFileGiven = opts.sandbox ?? process.env[SANDBOX_STATE_ENV];
      const log = (m: string) => process.stderr.write(`${m}\n`);
      let box: Sandbox | undefined;
      let worker: RunningWorker | undefined;
      let closeClient: (() => Promise<void>) | undefined;
      try {
        let stateFile: string;
        if (stateFileGiven) {
          stateFile = stateFileGiven;
          log(`Using the running sandbox ${stateFile}`);
        } else {
          log('Starting the local stack (first run builds the pinned binaries; later runs take seconds)…');
          box = await startSandbox();
          stateFile = box.stateFile;
        }
        const state = readSandboxState(stateFile);
        log(describeEndpoints(state));

        const taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
        // The worker encrypts with the sandbox's codec key (the sandbox state brings it), the
        // key the sandbox's codec server decrypts with for the Web UI. A ROTATOR_CODEC_KEY of
        // the user's own wins, but then the Web UI cannot decode the demo's payloads.
        const ownKey = process.env[CODEC_KEY_ENV];
        const ownKeyId = process.env[CODEC_KEY_ID_ENV] ?? 'default';
        const uiDecodes =
          Boolean(state.codec?.key) &&
          (!ownKey || (ownKey === state.codec.key && ownKeyId === state.codec.keyId));
        if (ownKey && !uiDecodes) {
          log(
            `Note: ${CODEC_KEY_ENV} is set and is not the sandbox's codec key, so the Web UI shows this demo's payloads encrypted (and cannot start runs this worker reads). Unset it to use the sandbox's key.`,
          );
        }
        const config = await loadWorkerConfig({
          [SANDBOX_STATE_ENV]: stateFile,
          TEMPORAL_TASK_QUEUE: taskQueue,
          ROTATOR_LOG_LEVEL: 'warn',
          ROTATOR_SHUTDOWN_GRACE: '5s',
          ...(ownKey ? { [CODEC_KEY_ENV]: ownKey } : {}),
          ...(ownKey && process.env[CODEC_KEY_ID_ENV]
            ? { [CODEC_KEY_ID_ENV]: process.env[CODEC_KEY_ID_ENV] }
            : {}),
        });
        worker = await startWorker(config, { identity: `rotator-demo-worker@${process.pid}` });
        log(`Worker running in this process on task queue ${taskQueue}.`);
        const conn = resolveConnection({ sandbox: stateFile, taskQueue, json: opts.json });
        const connected = await connect(conn);
        closeClient = connected.close;
        const client = connected.client;
        const inventory = config.inventory;
        const zone = findZone(inventory, opts.zone);

        log('\n── 1/3 BootstrapCluster: users, policies, Secrets, consumers restarted, every zone smoked');
        const boot = await run(client, conn, inventory, 'BootstrapCluster', {});

        const consumers = Array.isArray(zone.consumers)
          ? zone.consumers.filter((c) => c.kind === 'Deployment')
          : [];
        const workload = consumers[0];
        if (!workload)
          throw new CliError(
            `zone ${zone.name} lists no Deployment consumer to keep serving during the demo`,
          );
        const bucket = zone.policy.readOnly[0] ?? zone.policy.readWrite[0]!;
        const probeOpts = {
          namespace: zone.secret.namespace,
          secret: zone.secret.name,
          deployment: workload.name,
          bucket,
        };

        log(
          `\n── 2/3 RotateZone ${zone.name} (overlap) while ${workload.kind}/${workload.name} keeps reading ${bucket}`,
        );
        const loop = startConsumerLoop(state, probeOpts);
        const zr = await run(client, conn, inventory, 'RotateZone', { zone: zone.name, grace: opts.grace });
        const zoneReport = await loop.stop();
        const zoneResult = zr.result.zones[0];

        log(
          '\n── 3/3 RotateRoot: approval gate, store restart with the new root, every zone re-ensured and smoked',
        );
        const approvedBy = `${whoami()} (demo)`;
        const rootLoop = startConsumerLoop(state, probeOpts);
        const probe = storeProbe(state);
        const rr = await run(
          client,
          conn,
          inventory,
          'RotateRoot',
          { restartTimeout: opts.restartTimeout },
          async () => {
            log(
              `   approving as ${approvedBy} (what on-call does with: rotator approve rotate-root --by <you>)`,
            );
            await client.workflow
              .getHandle('rotate-root')
              .executeUpdate(approveUpdate, { args: [{ by: approvedBy, reason: 'demo' }] });
          },
        );
        const storeDown = await probe.stop();
        const rootReport = await rootLoop.stop();

        const cli = `ROTATOR_SANDBOX_STATE=${stateFile} npx tsx src/cli.ts`;
        const summary: DemoSummary = {
          bootstrap: { workflowId: boot.workflowId, summary: boot.result.summary },
          zone: {
            zone: zone.name,
            workflowId: zr.workflowId,
            previousFingerprint: zoneResult?.previousFingerprint,
            newFingerprint: zoneResult?.newFingerprint,
            restarted: zoneResult?.restarted ?? [],
            revoked: zoneResult?.revoked,
            consumer: { ...zoneReport, workload: `${workload.kind}/${workload.namespace}/${workload.name}` },
          },
          store: {
            kind: rr.result.root?.store?.kind ?? inventory.store.kind,
            version: rr.result.root?.store?.version ?? 'unknown',
            iamSurvivesRootChange: rr.result.root?.store?.iamSurvivesRootChange,
          },
          root: {
            workflowId: rr.workflowId,
            previousFingerprint: rr.result.root?.previousFingerprint,
            zoneKeysRefusedMs: rr.result.root?.zoneKeysRefusedMs,
            newFingerprint: rr.result.root?.newFingerprint,
            approvedBy,
            storeUnavailableMs: storeDown,
            consumerDuringRoot: rootReport,
          },
          webUi: webUiLink(conn) ?? state.temporal.uiUrl,
          metrics: worker.metricsUrl,
          payloads: config.codec
            ? {
                encrypted: true,
                keyId: ownKey ? ownKeyId : state.codec?.keyId,
                codecServer: uiDecodes ? state.codec.endpoint : undefined,
              }
            : { encrypted: false },
          historyCommands: [
            `${cli} history ${rr.workflowId}`,
            `${cli} history ${zr.workflowId}`,
            `${cli} status ${rr.workflowId}`,
          ],
          sandboxStateFile: stateFile,
        };
        emit(opts, summary, renderSummary);
        if (zoneReport.failures > 0) {
          throw new CliError(
            `the consumer saw ${zoneReport.failures} failed request(s) during the zone rotation: ${zoneReport.errors.join(', ')}`,
            EXIT.workflowFailed,
          );
        }
        if (!exitAtEnd) {
          log(
            `\nThe stack and the worker stay up: open ${state.temporal.uiUrl} and start a workflow from the UI. Ctrl-C stops everything.`,
          );
          await untilSignal();
        }
      } finally {
        await closeClient?.().catch(() => undefined);
        await worker?.shutdown();
        await box?.stop();
      }
    });
}
