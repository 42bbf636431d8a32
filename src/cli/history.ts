// `rotator history <id>`: the run's timeline (src/timeline/), fetched, decoded and printed.
import { type Client } from '@temporalio/client';
import { type Command } from 'commander';
import { type AesGcmCodec } from '../temporal/codec';
import { decodeHistory } from '../timeline/decode';
import { timelineFromHistory } from '../timeline/timeline';
import { type Timeline, type TimelineEntry } from '../timeline/types';
import {
  connectionOptionsSchema,
  notFound,
  resolveConnection,
  withClient,
  withConnection,
} from './connection';
import { clock, emit, ms } from './output';

export type { Timeline } from '../timeline/types';

/** The timeline of a run (the latest, or `runId`), its payloads decoded with `codec`. */
export async function fetchTimeline(
  client: Client,
  workflowId: string,
  opts: { runId?: string; codec?: AesGcmCodec } = {},
): Promise<Timeline> {
  const handle = client.workflow.getHandle(workflowId, opts.runId);
  const [history, desc] = await Promise.all([handle.fetchHistory(), handle.describe()]);
  return timelineFromHistory(await decodeHistory(history, opts.codec), {
    workflowId,
    runId: desc.runId,
    now: new Date(),
  });
}

const ICON: Record<TimelineEntry['state'], string> = {
  running: '…',
  started: '▶',
  completed: '✓',
  failed: '✗',
  'timed-out': '⧖',
  canceled: '⊘',
  fired: '⏰',
  accepted: '✉',
  rejected: '✗',
};

export function renderTimeline(t: Timeline): string {
  const lines = [
    `${t.workflowType} ${t.workflowId} (run ${t.runId})`,
    `  triggered by: ${t.trigger.description}`,
    `  input:        ${JSON.stringify(t.input ?? {})}`,
    `  started:      ${t.startedAt}`,
    `  outcome:      ${t.outcome}${t.outcomeDetail ? ` — ${t.outcomeDetail}` : ''}${t.closedAt ? ` at ${t.closedAt}` : ''} (${ms(t.durationMs)})`,
    '',
    '  time      what',
  ];
  for (const e of t.entries) {
    const extra: string[] = [];
    if (e.durationMs !== undefined) extra.push(ms(e.durationMs));
    if (e.attempts !== undefined && e.attempts > 1) extra.push(`${e.attempts} attempts`);
    if (e.by) extra.push(`by ${e.by}`);
    if (e.reason) extra.push(`reason: ${e.reason}`);
    let line = `  ${clock(e.at)}  ${ICON[e.state]} ${e.kind === 'activity' ? '' : `[${e.kind}] `}${e.name}`;
    if (extra.length) line += `  (${extra.join(', ')})`;
    if (e.detail) line += ` — ${e.detail}`;
    lines.push(line);
    if (e.lastFailure) lines.push(`            last failure: ${e.lastFailure}`);
  }
  return lines.join('\n');
}

export function registerHistory(program: Command): void {
  withConnection(
    program
      .command('history <workflowId>')
      .description(
        'on-call timeline from the event history: steps, attempts, failures, pauses, updates and who sent them, trigger',
      )
      .option('--run-id <runId>', 'a specific run (default: the latest)'),
  ).action(async (id: string, raw: { runId?: string }) => {
    const opts = connectionOptionsSchema.parse(raw);
    const conn = resolveConnection(opts);
    await withClient(conn, async (client) => {
      const timeline = await fetchTimeline(client, id, { runId: raw.runId, codec: conn.codec }).catch(
        (err: unknown) => notFound(err, id),
      );
      emit(opts, timeline, renderTimeline);
    });
  });
}
