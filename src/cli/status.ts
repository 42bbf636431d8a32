import { type Command } from 'commander';
import { statusQuery } from '../workflows/definitions';
import { type WorkflowResult, type WorkflowStatus } from '../workflows/types';
import {
  connectionOptionsSchema,
  notFound,
  resolveConnection,
  withClient,
  withConnection,
} from './connection';
import { emit } from './output';
import { rootCause, renderStatus } from './render';

export function registerStatus(program: Command): void {
  withConnection(
    program
      .command('status <workflowId>')
      .description('phase, current step, key fingerprints, what the run waits for, and its steps'),
  ).action(async (id: string, raw: unknown) => {
    const opts = connectionOptionsSchema.parse(raw);
    const conn = resolveConnection(opts);
    await withClient(conn, async (client) => {
      const handle = client.workflow.getHandle(id);
      const desc = await handle.describe().catch((err: unknown) => notFound(err, id));
      let status: WorkflowStatus | undefined;
      let queryError: string | undefined;
      let outcome: { result?: WorkflowResult; failure?: string } | undefined;
      try {
        status = await handle.query(statusQuery);
      } catch (err) {
        queryError = rootCause(err);
      }
      if (desc.status.name !== 'RUNNING') {
        // A closed run's outcome comes from history, with or without a worker.
        outcome = await handle.result().then(
          (result: WorkflowResult) => ({ result }),
          (err: unknown) => ({ failure: rootCause(err) }),
        );
      }
      const value = {
        workflowId: id,
        runId: desc.runId,
        workflowType: desc.type,
        execution: desc.status.name,
        startTime: desc.startTime.toISOString(),
        closeTime: desc.closeTime?.toISOString(),
        taskQueue: desc.taskQueue,
        status,
        ...outcome,
        ...(queryError ? { queryError } : {}),
      };
      emit(opts, value, (v) =>
        [
          v.status
            ? renderStatus(id, v.status, {
                status: v.execution,
                startTime: desc.startTime,
                closeTime: desc.closeTime,
              })
            : `${v.workflowType} ${id}: ${v.execution}` +
              (v.execution === 'RUNNING'
                ? ` (status query unavailable: ${queryError}; is a worker polling task queue ${v.taskQueue}?)`
                : ''),
          ...(outcome?.result ? [`  result: ${outcome.result.summary}`] : []),
          ...(outcome?.failure ? [`  failure: ${outcome.failure}`] : []),
          `  history: rotator history ${id}`,
        ].join('\n'),
      );
    });
  });
}
