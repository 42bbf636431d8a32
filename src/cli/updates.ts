// approve | resume | rollback | revoke-now: the decisions on-call sends to a running
// workflow, through the update definitions the workflows themselves register. The
// workflow's validator refuses an update that does not fit the phase (exit 3), and the
// accepted update's argument (`by`, `reason`) is recorded in history.
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { type UpdateDefinition } from '@temporalio/common';
import { type Command } from 'commander';
import { z } from 'zod';
import { type DecisionAction } from '../approvals/decisions';
import {
  approveUpdate,
  resumeUpdate,
  revokeNowUpdate,
  rollbackUpdate,
  stopRetryingUpdate,
  type UpdateArg,
} from '../workflows/definitions';
import {
  connectionOptionsSchema,
  notFound,
  resolveConnection,
  whoami,
  withClient,
  withConnection,
} from './connection';
import { CliError, emit, EXIT } from './output';
import { firstRunId, recordDecision, targetOf } from './decisions';
import { rootCause } from './render';

const options = connectionOptionsSchema.extend({
  by: z.string().min(1, { error: '--by needs a name' }).optional(),
  reason: z.string().optional(),
});

const UPDATES: Array<{
  command: string;
  def: UpdateDefinition<string, [UpdateArg]>;
  description: string;
  /** A decision the run takes only from an authorized identity (src/cli/decisions.ts). */
  decision?: Exclude<DecisionAction, 'request'>;
}> = [
  {
    command: 'approve',
    decision: 'approve',
    def: approveUpdate,
    description: 'RotateRoot awaiting approval: let the root rotation proceed',
  },
  {
    command: 'resume',
    decision: 'resume',
    def: resumeUpdate,
    description: 'RotateRoot paused: wait another restart window for the store',
  },
  {
    command: 'rollback',
    decision: 'rollback',
    def: rollbackUpdate,
    description: 'RotateRoot paused: restore the previous root and restart the store with it',
  },
  {
    command: 'revoke-now',
    decision: 'revoke-now',
    def: revokeNowUpdate,
    description: 'RotateZone in its grace period: revoke the previous key now',
  },
  {
    command: 'stop-retrying',
    def: stopRetryingUpdate,
    description: 'a run retrying a failing step: stop, the step fails now with its last error',
  },
];

export function registerUpdates(program: Command): void {
  for (const u of UPDATES) {
    withConnection(
      program
        .command(`${u.command} <workflowId>`)
        .description(u.description)
        .option('--by <who>', 'who decides (recorded in history; default: user@host)')
        .option('--reason <text>', 'why (recorded in history)'),
      { kube: Boolean(u.decision) },
    ).action(async (id: string, raw: unknown) => {
      const opts = options.parse(raw);
      const conn = resolveConnection(opts);
      const arg: UpdateArg = { by: opts.by ?? whoami(), ...(opts.reason ? { reason: opts.reason } : {}) };
      await withClient(conn, async (client) => {
        const handle = client.workflow.getHandle(id);
        const desc = await handle.describe().catch((err: unknown) => notFound(err, id));
        if (desc.status.name !== 'RUNNING') {
          throw new CliError(
            `${id} is not running (${desc.status.name}); ${u.command} applies to a running workflow`,
            EXIT.workflowFailed,
          );
        }
        // With your own Kubernetes credentials, before the update: the run acts only on an admitted decision.
        const decision = u.decision
          ? await recordDecision(conn, {
              workflowId: id,
              runId: firstRunId(desc),
              action: u.decision,
              target: targetOf(u.decision, desc),
              ...(opts.reason ? { reason: opts.reason } : {}),
            })
          : undefined;
        let response: string;
        try {
          response = await handle.executeUpdate(u.def, { args: [arg] });
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) {
            throw new CliError(
              `${u.command} refused by ${id}: ${rootCause(err)}. Check: rotator status ${id}`,
              EXIT.workflowFailed,
            );
          }
          throw err;
        }
        emit(
          opts,
          { workflowId: id, update: u.def.name, by: arg.by, reason: arg.reason, decision, response },
          (v) => `${id}: ${v.response}`,
        );
      });
    });
  }
}
