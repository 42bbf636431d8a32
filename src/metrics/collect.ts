// Gathers the facts the metrics are computed from (model.ts), at scrape time: the rotator's
// runs from Temporal visibility and their histories, the status query of open runs, the
// schedules, the task queue's pollers, and the pending records and Secrets in Kubernetes.
// Results are cached for a few seconds (a burst of scrapes, several Prometheus replicas);
// a closed run's history never changes, so what was read from it is kept by run ID.
import { type Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { pendingRecords } from '../activities/pending-records';
import { smokeMismatchOf, SMOKE_MISMATCH } from '../activities/smoke';
import { runState } from '../activities/temporal';
import { runAudit } from '../audit/report';
import { type Inventory } from '../inventory';
import { type Kube, readSecret, ROTATION_ANNOTATIONS } from '../kube';
import { type PrefectClient } from '../prefect/client';
import { SEARCH_ATTRIBUTE_ZONE, statusQuery } from '../workflows/definitions';
import { WORKFLOW_TYPES, type WorkflowResult, type WorkflowType } from '../workflows/types';
import {
  type ClosedRun,
  type ExecutionStatus,
  type KubeFacts,
  type OpenRun,
  type ScheduleFacts,
  type Snapshot,
} from './model';

const zoneKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE_ZONE, SearchAttributeType.KEYWORD);
const EventType = temporal.api.enums.v1.EventType;
const TaskQueueType = temporal.api.enums.v1.TaskQueueType;

export interface CollectorOptions {
  client: Client;
  namespace: string;
  taskQueue: string;
  inventory: Inventory;
  kube: Kube;
  /** The store's admin endpoint, for the audit. */
  adminEndpoint: string;
  /** The inventory's work pools, for the audit. */
  prefect: PrefectClient;
  /** How long a snapshot is reused (default 5 s). */
  ttlMs?: number;
  /** How long an audit result is reused (default 60 s: it calls the store for every zone). */
  auditTtlMs?: number;
  onError?: (source: string, err: unknown) => void;
}

/** Which sources failed in the last collection (rustfs_rotator_collect_errors). */
export type SourceErrors = Record<'temporal' | 'kubernetes' | 'audit', boolean>;

interface ChainFacts {
  firstRunId?: string;
  failureType?: string;
  dryRun?: boolean;
  smokeCellFailures: Record<string, number>;
}

type Failure = temporal.api.failure.v1.IFailure;

/** The ApplicationFailure type of a failure, looking through activity/child wrappers. */
function applicationType(f: Failure | null | undefined): string | undefined {
  for (let cur = f; cur; cur = cur.cause) {
    if (cur.applicationFailureInfo) return cur.applicationFailureInfo.type ?? undefined;
    if (cur.childWorkflowExecutionFailureInfo) return undefined;
  }
  return undefined;
}

/** The SmokeMismatch in a failure chain (an activity's own failure, never one of a child run). */
function smokeMismatch(f: Failure | null | undefined) {
  for (let cur = f; cur; cur = cur.cause) {
    if (cur.childWorkflowExecutionFailureInfo) return undefined;
    if (cur.applicationFailureInfo?.type === SMOKE_MISMATCH) return smokeMismatchOf(cur.message ?? '');
  }
  return undefined;
}

export class MetricsCollector {
  private cached: { at: number; snapshot: Promise<Snapshot> } | undefined;
  private readonly histories = new Map<string, ChainFacts>();
  private audit: { at: number; findings?: Record<string, number>; running?: Promise<void> } = { at: 0 };
  readonly errors: SourceErrors = { temporal: false, kubernetes: false, audit: false };

  constructor(private readonly o: CollectorOptions) {}

  /** The current facts, at most ttlMs old; concurrent scrapes share one collection. */
  snapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > (this.o.ttlMs ?? 5000)) {
      const snapshot = this.collect();
      this.cached = { at: now, snapshot };
      snapshot.catch(() => (this.cached = undefined));
    }
    return this.cached.snapshot;
  }

  private async collect(): Promise<Snapshot> {
    const zones = this.o.inventory.zones.map((z) => z.name);
    const failed = new Set<keyof SourceErrors>();
    const from =
      <T>(source: keyof SourceErrors) =>
      (err: unknown): T | undefined => {
        failed.add(source);
        this.o.onError?.(source, err);
        return undefined;
      };
    const [runs, schedules, pollers, kube] = await Promise.all([
      this.runs().catch(from<Awaited<ReturnType<MetricsCollector['runs']>>>('temporal')),
      this.schedules().catch(from<ScheduleFacts[]>('temporal')),
      // Optional: a key that may not describe task queues still gets every other metric.
      this.pollers().catch((err: unknown) => (this.o.onError?.('pollers', err), undefined)),
      this.kubeFacts().catch(from<KubeFacts>('kubernetes')),
    ]);
    this.errors.temporal = failed.has('temporal');
    this.errors.kubernetes = failed.has('kubernetes');
    this.refreshAudit();
    return {
      zones,
      closed: runs?.closed ?? [],
      open: runs?.open ?? [],
      schedules: schedules ?? [],
      kube,
      pollers,
    };
  }

  private async runs(): Promise<{ closed: ClosedRun[]; open: OpenRun[] }> {
    const types = WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ');
    const query = `TaskQueue = '${this.o.taskQueue.replace(/'/g, "\\'")}' AND WorkflowType IN (${types})`;
    const closed: ClosedRun[] = [];
    const open: OpenRun[] = [];
    const work: Array<() => Promise<void>> = [];
    for await (const info of this.o.client.workflow.list({ query })) {
      const type = info.type as WorkflowType;
      const zone = info.typedSearchAttributes.get(zoneKey);
      const status = info.status.name as ExecutionStatus;
      if (status === 'RUNNING') {
        const run: OpenRun = { workflowId: info.workflowId, type, zone };
        open.push(run);
        work.push(async () => {
          try {
            const handle = this.o.client.workflow.getHandle(info.workflowId, info.runId);
            const status = await handle.query(statusQuery);
            run.phase = status.phase;
            run.retrying = status.retrying?.map((r) => ({
              kind: r.kind,
              attempts: r.attempts,
              escalated: r.escalated,
            }));
          } catch {
            // No worker answered (all stopped, or this one busy): the wait is unknown, not 0.
          }
        });
        continue;
      }
      if (!info.closeTime) continue;
      const run: ClosedRun = {
        workflowId: info.workflowId,
        runId: info.runId,
        type,
        zone,
        status,
        startTime: info.startTime,
        closeTime: info.closeTime,
        smokeCellFailures: {},
      };
      closed.push(run);
      work.push(async () => {
        Object.assign(run, await this.chainFacts(info.workflowId, info.runId));
      });
    }
    await pool(work, 4);
    // Runs that left the retention are forgotten here too.
    const listed = new Set(closed.map((r) => r.runId));
    for (const runId of this.histories.keys()) if (!listed.has(runId)) this.histories.delete(runId);
    return { closed, open };
  }

  /** What a closed run's history says: how it failed, whether it was a plan, its smoke failures. */
  private async chainFacts(workflowId: string, runId: string): Promise<ChainFacts> {
    const known = this.histories.get(runId);
    if (known) return known;
    const history = await this.o.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const facts: ChainFacts = { smokeCellFailures: {} };
    for (const e of history.events ?? []) {
      const started = e.workflowExecutionStartedEventAttributes;
      if (started?.firstExecutionRunId && started.firstExecutionRunId !== runId)
        facts.firstRunId = started.firstExecutionRunId;
      const failure =
        e.markerRecordedEventAttributes?.failure ?? e.activityTaskFailedEventAttributes?.failure;
      const mismatch = smokeMismatch(failure);
      if (mismatch)
        facts.smokeCellFailures[mismatch.zone] =
          (facts.smokeCellFailures[mismatch.zone] ?? 0) + mismatch.failed;
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED)
        facts.failureType = applicationType(e.workflowExecutionFailedEventAttributes?.failure);
      const completed = e.workflowExecutionCompletedEventAttributes;
      if (completed?.result?.payloads?.length) {
        const result = await decodeFromPayloadsAtIndex<WorkflowResult>(
          this.o.client.options.loadedDataConverter,
          0,
          completed.result.payloads,
        ).catch(() => undefined);
        facts.dryRun = result?.outcome === 'planned';
      }
    }
    this.histories.set(runId, facts);
    return facts;
  }

  private async schedules(): Promise<ScheduleFacts[]> {
    const out: ScheduleFacts[] = [];
    for await (const summary of this.o.client.schedule.list()) {
      const type = summary.action?.workflowType;
      if (!type || !(WORKFLOW_TYPES as readonly string[]).includes(type)) continue;
      const desc = await this.o.client.schedule.getHandle(summary.scheduleId).describe();
      if (desc.action.type !== 'startWorkflow' || desc.action.taskQueue !== this.o.taskQueue) continue;
      out.push({
        id: summary.scheduleId,
        workflowType: type,
        input: desc.action.args?.[0],
        paused: desc.state.paused,
        nextActionTimes: desc.info.nextActionTimes,
      });
    }
    return out;
  }

  private async pollers(): Promise<{ workflow: number; activity: number }> {
    const count = async (taskQueueType: temporal.api.enums.v1.TaskQueueType) =>
      (
        await this.o.client.workflowService.describeTaskQueue({
          namespace: this.o.namespace,
          taskQueue: { name: this.o.taskQueue },
          taskQueueType,
        })
      ).pollers?.length ?? 0;
    const [workflow, activity] = await Promise.all([
      count(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
      count(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    ]);
    return { workflow, activity };
  }

  private async kubeFacts(): Promise<KubeFacts> {
    const { kube, inventory } = this.o;
    const records = pendingRecords(inventory);
    const rotatedAt = async (s: { namespace: string; name: string }) => {
      const at = (await readSecret(kube, s.namespace, s.name))?.annotations[ROTATION_ANNOTATIONS.rotatedAt];
      return at && !Number.isNaN(Date.parse(at)) ? new Date(at) : undefined;
    };
    const pending = async (r: { namespace: string; name: string }) =>
      (await readSecret(kube, r.namespace, r.name)) !== null;
    const zones = await Promise.all(
      records.zones.map(async (r) => ({
        zone: r.zone,
        pending: await pending(r),
        rotatedAt: await rotatedAt(r.secret),
      })),
    );
    return {
      zones,
      root: { pending: await pending(records.root), rotatedAt: await rotatedAt(records.root.secret) },
    };
  }

  /** Starts an audit in the background when the last one is older than auditTtlMs. */
  private refreshAudit(): void {
    if (this.audit.running || Date.now() - this.audit.at < (this.o.auditTtlMs ?? 60_000)) return;
    this.audit.running = runAudit(
      this.o.inventory,
      this.o.kube,
      this.o.adminEndpoint,
      (ref) => runState(this.o.client, ref),
      this.o.prefect,
    )
      .then(
        (report) => {
          const findings: Record<string, number> = {};
          for (const f of report.findings) findings[f.severity] = (findings[f.severity] ?? 0) + 1;
          this.audit.findings = findings;
          this.errors.audit = false;
        },
        (err: unknown) => {
          this.errors.audit = true;
          this.o.onError?.('audit', err);
        },
      )
      .finally(() => {
        this.audit.at = Date.now();
        this.audit.running = undefined;
      });
  }

  /** Findings of the last audit by kind; undefined until one completed. */
  auditFindings(): Record<string, number> | undefined {
    return this.audit.findings;
  }

  /** Waits for a running audit (the first scrape after start reports it rather than nothing). */
  async auditSettled(timeoutMs: number): Promise<void> {
    if (!this.audit.running) return;
    await Promise.race([this.audit.running, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

async function pool(tasks: Array<() => Promise<void>>, width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, tasks.length) }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}
