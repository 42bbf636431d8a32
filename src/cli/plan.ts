import { randomBytes } from 'node:crypto';
import { type Command } from 'commander';
import { type WorkflowResult } from '../workflows/types';
import {
  connectionOptionsSchema,
  requireInventory,
  resolveConnection,
  withClient,
  withConnection,
} from './connection';
import { emit } from './output';
import { renderPlan, workflowFailure } from './render';
import { startPrepared } from './start-workflow';
import { prepareStart, withInputFlags } from './workflow-input';

/**
 * The dry-run plan of a workflow: it runs with `dryRun: true` (read-only activities only)
 * under its own ID, so planning never collides with the lock of a real run in progress.
 */
export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan <workflow>')
    .description(
      'what a workflow would create, patch, restart and revoke, and the expected downtime (read-only)',
    );
  withInputFlags(cmd, { dryRun: false });
  withConnection(cmd).action(async (workflow: string, raw: Record<string, unknown>) => {
    const opts = connectionOptionsSchema.parse(raw);
    const conn = resolveConnection(opts);
    const inventory = await requireInventory(conn);
    const prepared = prepareStart(workflow, { ...raw, dryRun: true }, inventory);
    const planId = `plan-${prepared.workflowId}-${randomBytes(3).toString('hex')}`;
    await withClient(conn, async (client) => {
      const handle = await startPrepared(client, conn.taskQueue, prepared, planId);
      let result: WorkflowResult;
      try {
        result = await handle.result();
      } catch (err) {
        throw workflowFailure(err, planId);
      }
      emit(opts, { workflowId: planId, input: prepared.input, plan: result.plan }, (v) =>
        v.plan
          ? `${renderPlan(v.plan)}\n(read-only; nothing was changed — plan run ${planId})`
          : `no plan returned by ${planId}`,
      );
    });
  });
}
