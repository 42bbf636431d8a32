// `rotator schedule ...`: the monthly rotation as a Temporal Schedule, created and managed
// here, visible and pausable in the Web UI. Default: BootstrapCluster {"rotate": true}
// (every zone rotated through its RotateZone child) at 03:00 UTC on the 1st, overlap SKIP
// (a run still going means the next is skipped, never queued behind a lock) and pause on
// failure (a failed rotation stops the schedule until someone looks).
import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import { type Command } from 'commander';
import { z } from 'zod';
import { workflowIds } from '../workflows/types';
import {
  connectionOptionsSchema,
  requireInventory,
  resolveConnection,
  withClient,
  withConnection,
} from './connection';
import { cronProblem } from './cron';
import { CliError, emit, EXIT, table } from './output';
import { kindKey, zoneKey } from './start-workflow';
import { prepareStart, withInputFlags } from './workflow-input';

export const DEFAULT_SCHEDULE_ID = 'rotator-monthly-rotation';
export const DEFAULT_CRON = '0 3 1 * *';

const createOptions = connectionOptionsSchema.extend({
  id: z.string().min(1).default(DEFAULT_SCHEDULE_ID),
  cron: z.string().default(DEFAULT_CRON),
  timezone: z.string().optional(),
  workflow: z.string().default('BootstrapCluster'),
  paused: z.boolean().default(false),
  note: z.string().optional(),
});

async function handleFor(client: Client, id: string) {
  const handle = client.schedule.getHandle(id);
  try {
    return { handle, desc: await handle.describe() };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      throw new CliError(`no schedule "${id}"; list them with: rotator schedule list`, EXIT.notFound);
    }
    throw err;
  }
}

type Desc = Awaited<ReturnType<typeof handleFor>>['desc'];

async function describeSchedule(client: Client, desc: Desc) {
  const action = desc.action;
  const recentRuns = await Promise.all(
    desc.info.recentActions.map(async (a) => {
      const wf = a.action.workflow;
      let status = 'unknown';
      try {
        status = (await client.workflow.getHandle(wf.workflowId, wf.firstExecutionRunId).describe()).status
          .name;
      } catch {
        // deleted by retention
      }
      return {
        workflowId: wf.workflowId,
        runId: wf.firstExecutionRunId,
        scheduledAt: a.scheduledAt.toISOString(),
        takenAt: a.takenAt.toISOString(),
        status,
      };
    }),
  );
  return {
    scheduleId: desc.scheduleId,
    cron: (desc.memo?.cron as string | undefined) ?? undefined,
    timezone: desc.spec.timezone,
    workflowType: action.type === 'startWorkflow' ? action.workflowType : undefined,
    input: action.type === 'startWorkflow' ? action.args?.[0] : undefined,
    taskQueue: action.type === 'startWorkflow' ? action.taskQueue : undefined,
    overlap: desc.policies.overlap,
    pauseOnFailure: desc.policies.pauseOnFailure,
    paused: desc.state.paused,
    note: desc.state.note,
    nextActionTimes: desc.info.nextActionTimes.slice(0, 3).map((d) => d.toISOString()),
    numActionsTaken: desc.info.numActionsTaken,
    numActionsSkippedOverlap: desc.info.numActionsSkippedOverlap,
    runningWorkflows: desc.info.runningActions.map((a) => a.workflow.workflowId),
    recentRuns,
  };
}

type Described = Awaited<ReturnType<typeof describeSchedule>>;

function renderDescribe(d: Described): string {
  return [
    `schedule ${d.scheduleId}${d.paused ? '  [PAUSED]' : ''}`,
    `  when:        ${d.cron ?? '(calendar spec)'}${d.timezone ? ` ${d.timezone}` : ' UTC'}`,
    `  runs:        ${d.workflowType} ${JSON.stringify(d.input ?? {})} on task queue ${d.taskQueue}`,
    `  policies:    overlap ${d.overlap}, pause on failure ${d.pauseOnFailure ? 'yes' : 'no'}`,
    ...(d.note ? [`  note:        ${d.note}`] : []),
    `  next:        ${d.nextActionTimes.join(', ') || '-'}`,
    `  taken:       ${d.numActionsTaken} (skipped for overlap: ${d.numActionsSkippedOverlap})`,
    ...(d.runningWorkflows.length ? [`  running:     ${d.runningWorkflows.join(', ')}`] : []),
    ...(d.recentRuns.length
      ? [
          '  recent runs:',
          table(
            d.recentRuns.map((r) => [r.takenAt, r.workflowId, r.status]),
            '    ',
          ),
        ]
      : []),
  ].join('\n');
}

export function registerSchedule(program: Command): void {
  const schedule = program.command('schedule').description('the monthly rotation as a Temporal Schedule');

  const create = schedule
    .command('create')
    .description(
      `create the rotation schedule (default: BootstrapCluster {"rotate": true}, cron "${DEFAULT_CRON}", overlap SKIP; a failed run does not pause it)`,
    )
    .option('--id <scheduleId>', 'schedule ID', DEFAULT_SCHEDULE_ID)
    .option('--cron <expr>', 'when, as 5-field cron in UTC (or --timezone)', DEFAULT_CRON)
    .option('--timezone <tz>', 'IANA time zone for the cron, e.g. Europe/Berlin')
    .option('--workflow <workflow>', 'what it runs', 'BootstrapCluster')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'note shown in the Web UI');
  withInputFlags(create, { dryRun: false });
  withConnection(create).action(async (raw: Record<string, unknown>) => {
    const opts = createOptions.parse(raw);
    const problem = cronProblem(opts.cron);
    if (problem) throw new CliError(`invalid --cron: ${problem}`);
    const conn = resolveConnection(opts);
    const inventory = await requireInventory(conn);
    const defaultRotate =
      opts.workflow === 'BootstrapCluster' && raw.rotate === undefined ? { rotate: true } : {};
    const prepared = prepareStart(opts.workflow, { ...raw, ...defaultRotate }, inventory);
    await withClient(conn, async (client) => {
      try {
        await client.schedule.create({
          scheduleId: opts.id,
          spec: { cronExpressions: [opts.cron], timezone: opts.timezone },
          action: {
            type: 'startWorkflow',
            workflowType: prepared.workflowType,
            workflowId: `scheduled-${prepared.workflowType === 'BootstrapCluster' ? workflowIds.bootstrap : prepared.workflowId}`,
            taskQueue: conn.taskQueue,
            args: [prepared.input],
            staticSummary: `${prepared.summary} — schedule ${opts.id}`,
            typedSearchAttributes: [
              { key: kindKey, value: prepared.workflowType },
              ...(prepared.zone ? [{ key: zoneKey, value: prepared.zone }] : []),
            ],
          },
          // A failed run does not pause the schedule: its next run is what reconciles a key left
          // valid past the switch (PreviousKeyStillValid). The failure already told on-call.
          policies: { overlap: ScheduleOverlapPolicy.SKIP, pauseOnFailure: false },
          state: {
            paused: opts.paused,
            note: opts.note ?? (opts.paused ? 'created paused' : `created by rotator CLI`),
          },
          memo: { cron: opts.cron, createdBy: 'rotator schedule create' },
        });
      } catch (err) {
        if (err instanceof ScheduleAlreadyRunning) {
          throw new CliError(
            `schedule "${opts.id}" already exists; see it with: rotator schedule describe ${opts.id}`,
            EXIT.alreadyRunning,
          );
        }
        throw err;
      }
      const { desc } = await handleFor(client, opts.id);
      emit(opts, await describeSchedule(client, desc), (d) => `created\n${renderDescribe(d)}`);
    });
  });

  withConnection(schedule.command('list').description('every schedule in the namespace')).action(
    async (raw: unknown) => {
      const opts = connectionOptionsSchema.parse(raw);
      await withClient(resolveConnection(opts), async (client) => {
        const out: Array<{
          scheduleId: string;
          workflowType?: string;
          paused: boolean;
          note?: string;
          nextActionTimes: string[];
        }> = [];
        for await (const s of client.schedule.list()) {
          out.push({
            scheduleId: s.scheduleId,
            workflowType: s.action?.type === 'startWorkflow' ? s.action.workflowType : undefined,
            paused: s.state.paused,
            note: s.state.note,
            nextActionTimes: s.info.nextActionTimes.slice(0, 1).map((d) => d.toISOString()),
          });
        }
        out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
        emit(opts, out, (rows) =>
          rows.length
            ? table([
                ['ID', 'WORKFLOW', 'STATE', 'NEXT'],
                ...rows.map((r) => [
                  r.scheduleId,
                  r.workflowType ?? '-',
                  r.paused ? 'paused' : 'active',
                  r.nextActionTimes[0] ?? '-',
                ]),
              ])
            : 'no schedules (create the monthly rotation with: rotator schedule create)',
        );
      });
    },
  );

  withConnection(
    schedule
      .command('describe [scheduleId]')
      .description('spec, action, policies, state, next and recent runs'),
  ).action(async (id: string | undefined, raw: unknown) => {
    const opts = connectionOptionsSchema.parse(raw);
    await withClient(resolveConnection(opts), async (client) => {
      const { desc } = await handleFor(client, id ?? DEFAULT_SCHEDULE_ID);
      emit(opts, await describeSchedule(client, desc), renderDescribe);
    });
  });

  for (const verb of ['pause', 'unpause'] as const) {
    withConnection(
      schedule
        .command(`${verb} [scheduleId]`)
        .description(verb === 'pause' ? 'stop taking actions until unpaused' : 'take actions again')
        .option('--note <text>', 'why (shown in the Web UI)'),
    ).action(async (id: string | undefined, raw: Record<string, unknown>) => {
      const opts = connectionOptionsSchema.extend({ note: z.string().optional() }).parse(raw);
      await withClient(resolveConnection(opts), async (client) => {
        const { handle } = await handleFor(client, id ?? DEFAULT_SCHEDULE_ID);
        await handle[verb](opts.note ?? `${verb}d with rotator CLI`);
        const d = await describeSchedule(client, await handle.describe());
        emit(opts, d, (x) => `${verb}d ${x.scheduleId}\n${renderDescribe(x)}`);
      });
    });
  }

  withConnection(
    schedule
      .command('trigger [scheduleId]')
      .description('run the action now (skipped if a run of it is still going)'),
  ).action(async (id: string | undefined, raw: unknown) => {
    const opts = connectionOptionsSchema.parse(raw);
    await withClient(resolveConnection(opts), async (client) => {
      const { handle, desc } = await handleFor(client, id ?? DEFAULT_SCHEDULE_ID);
      const before = desc.info.numActionsTaken + desc.info.numActionsSkippedOverlap;
      await handle.trigger(ScheduleOverlapPolicy.SKIP);
      // The action is taken asynchronously: wait briefly to report which run it started.
      let after = desc;
      for (let i = 0; i < 40; i++) {
        after = await handle.describe();
        if (after.info.numActionsTaken + after.info.numActionsSkippedOverlap > before) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const started =
        after.info.numActionsTaken > desc.info.numActionsTaken
          ? after.info.recentActions.at(-1)?.action.workflow
          : undefined;
      const value = {
        scheduleId: desc.scheduleId,
        triggered: true,
        workflowId: started?.workflowId,
        runId: started?.firstExecutionRunId,
        skipped: !started && after.info.numActionsSkippedOverlap > desc.info.numActionsSkippedOverlap,
      };
      emit(opts, value, (v) =>
        v.workflowId
          ? `triggered ${v.scheduleId}: started ${v.workflowId}\n  follow:  rotator status ${v.workflowId}\n  history: rotator history ${v.workflowId}`
          : v.skipped
            ? `triggered ${v.scheduleId}: skipped, a run of it is still going (overlap SKIP)`
            : `triggered ${v.scheduleId}; the run has not appeared yet — check: rotator schedule describe ${v.scheduleId}`,
      );
    });
  });

  withConnection(
    schedule.command('delete [scheduleId]').description('delete the schedule (runs it started keep going)'),
  ).action(async (id: string | undefined, raw: unknown) => {
    const opts = connectionOptionsSchema.parse(raw);
    await withClient(resolveConnection(opts), async (client) => {
      const { handle } = await handleFor(client, id ?? DEFAULT_SCHEDULE_ID);
      await handle.delete();
      emit(opts, { scheduleId: handle.scheduleId, deleted: true }, (v) => `deleted schedule ${v.scheduleId}`);
    });
  });
}
