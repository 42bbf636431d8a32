import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { type Command } from 'commander';
import { ROOT_TARGET } from '../approvals/decisions';
import { z } from 'zod';
import { SEARCH_ATTRIBUTE_KIND, SEARCH_ATTRIBUTE_ZONE } from '../workflows/definitions';
import { type StepRecord, type WorkflowResult } from '../workflows/types';
import {
  connectionOptionsSchema,
  requireInventory,
  resolveConnection,
  whoami,
  withClient,
  withConnection,
  type ResolvedConnection,
} from './connection';
import { recordDecision, type RecordedDecision } from './decisions';
import { follow } from './follow';
import { CliError, emit, EXIT } from './output';
import { renderResult, workflowFailure } from './render';
import { prepareStart, withInputFlags, type PreparedStart } from './workflow-input';

export const zoneKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE_ZONE, SearchAttributeType.KEYWORD);
export const kindKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE_KIND, SearchAttributeType.KEYWORD);

const options = connectionOptionsSchema.extend({
  wait: z.boolean().default(false),
  follow: z.boolean().default(false),
});

/** Web UI page of a run, when the UI's address is known (sandbox or ROTATOR_WEB_UI_URL). */
export function webUiLink(conn: ResolvedConnection, workflowId?: string): string | undefined {
  const base = conn.sandbox?.temporal.uiUrl ?? process.env.ROTATOR_WEB_UI_URL;
  if (!base) return undefined;
  const root = `${base.replace(/\/$/, '')}/namespaces/${encodeURIComponent(conn.namespace)}/workflows`;
  return workflowId ? `${root}/${encodeURIComponent(workflowId)}` : root;
}

/**
 * Starts a prepared run: fixed ID (the lock), the zone/kind search attributes set at
 * start so Web UI filters find it at once, and a static summary saying who started it.
 */
export async function startPrepared(
  client: Client,
  taskQueue: string,
  p: PreparedStart,
  workflowId = p.workflowId,
) {
  try {
    return await client.workflow.start(p.workflowType, {
      taskQueue,
      workflowId,
      args: [p.input],
      staticSummary: p.summary,
      staticDetails: `Started by ${whoami()} with \`rotator start-workflow\`.\n\nInput:\n\`\`\`json\n${JSON.stringify(p.input, null, 2)}\n\`\`\``,
      typedSearchAttributes: [
        { key: kindKey, value: p.workflowType },
        ...(p.zone ? [{ key: zoneKey, value: p.zone }] : []),
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new CliError(
        `${p.workflowType} ${workflowId} is already running: its workflow ID is a lock, so a second run is refused. ` +
          `Follow the running one with: rotator status ${workflowId}`,
        EXIT.alreadyRunning,
      );
    }
    throw err;
  }
}

/**
 * A RotateRoot started here records who requested it (a RotationDecision with the user's own
 * Kubernetes credentials), so that identity cannot also approve it. When that fails the run
 * still starts, with no authenticated requester: it then needs two different approvers.
 */
async function recordRequest(
  conn: ResolvedConnection,
  p: PreparedStart,
  workflowId: string,
  runId: string,
): Promise<RecordedDecision | undefined> {
  if (p.workflowType !== 'RotateRoot' || p.input.dryRun) return undefined;
  try {
    return await recordDecision(conn, { workflowId, runId, action: 'request', target: ROOT_TARGET });
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(
      `rotator: warning: ${err.message}. ${workflowId} has no authenticated requester: two different authorized identities must approve it\n`,
    );
    return undefined;
  }
}

export function registerStartWorkflow(program: Command): void {
  const cmd = program
    .command('start-workflow <workflow>')
    .description('start BootstrapCluster, RotateZone or RotateRoot (the same JSON input as the Web UI form)');
  withInputFlags(cmd);
  withConnection(cmd, { kube: true })
    .option('--wait', 'wait for the result')
    .option('--follow', 'print each step as it happens, then the result')
    .addHelpText(
      'after',
      '\nExamples:\n  rotator start-workflow BootstrapCluster --follow\n  rotator start-workflow RotateZone --zone serving --follow\n  rotator start-workflow RotateRoot --dry-run --wait',
    )
    .action(async (workflow: string, raw: unknown) => {
      const opts = options.parse(raw);
      const conn = resolveConnection(opts);
      const inventory = await requireInventory(conn);
      const prepared = prepareStart(workflow, raw, inventory);
      await withClient(conn, async (client) => {
        const handle = await startPrepared(client, conn.taskQueue, prepared);
        const requested = await recordRequest(conn, prepared, handle.workflowId, handle.firstExecutionRunId);
        const started = {
          workflowId: handle.workflowId,
          runId: handle.firstExecutionRunId,
          workflowType: prepared.workflowType,
          input: prepared.input,
          taskQueue: conn.taskQueue,
          webUi: webUiLink(conn, handle.workflowId),
          ...(requested ? { requestedBy: requested.user, decision: requested.name } : {}),
        };
        if (!opts.wait && !opts.follow) {
          emit(opts, started, (s) =>
            [
              `started ${s.workflowType} ${s.workflowId} (run ${s.runId})`,
              `  input: ${JSON.stringify(s.input)}`,
              ...(s.requestedBy
                ? [`  requested by ${s.requestedBy} (RotationDecision ${s.decision}): another identity approves`]
                : []),
              `  follow:  rotator status ${s.workflowId}`,
              `  history: rotator history ${s.workflowId}`,
              ...(s.webUi ? [`  Web UI:  ${s.webUi}`] : []),
            ].join('\n'),
          );
          return;
        }
        let outcome: { result?: WorkflowResult; error?: unknown };
        const steps: StepRecord[] = [];
        if (opts.follow) {
          if (!opts.json) process.stdout.write(`started ${prepared.workflowType} ${handle.workflowId}\n`);
          const followed = await follow(handle, opts.json ? { write: () => undefined, tty: false } : {});
          steps.push(...(followed.status?.steps ?? []));
          outcome = followed;
        } else {
          outcome = await handle.result().then(
            (result: WorkflowResult) => ({ result }),
            (error: unknown) => ({ error }),
          );
        }
        if (outcome.error !== undefined) throw workflowFailure(outcome.error, handle.workflowId);
        emit(
          opts,
          { ...started, status: 'completed', result: outcome.result, ...(opts.follow ? { steps } : {}) },
          (s) => [renderResult(s.result!), `history: rotator history ${s.workflowId}`].join('\n'),
        );
      });
    });
}
