// Tells the cluster (Kubernetes Events on the objects the run changed) and people (webhook
// sinks) what a run did. Called by the workflows as a regular activity with few attempts,
// never awaited by a rotation step: a failure here is recorded by the run, never its cause.
import os from 'node:os';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { findZone } from '../inventory';
import { recordEvent, type EventObjectRef } from '../kube/events';
import { renderFor } from '../notify/render';
import { postJson, SinkError, sinkUrl } from '../notify/send';
import type { Announcement, EventTarget } from '../workflows/types';
import { type ActivityDeps } from './deps';

/** What one call did: Events by outcome, sinks told (by name; never a URL). */
export interface AnnounceResult {
  events: string[];
  notified: string[];
}

export function createAnnounceActivities(deps: ActivityDeps) {
  const { inventory, kube } = deps;
  const instance = deps.instance ?? `${os.hostname()}-${process.pid}`;
  const env = deps.env ?? process.env;

  const resolve = (a: Announcement, t: EventTarget): EventObjectRef => {
    if (!('secretOf' in t)) return t;
    const ref = t.secretOf === 'root' ? inventory.store.rootSecret : findZone(inventory, a.zone!).secret;
    return { kind: 'Secret', namespace: ref.namespace, name: ref.name };
  };

  return {
    /**
     * Records the Events and sends the notification to every sink whose `on` lists its kind.
     * A retry skips what an earlier attempt did (Events by their deterministic name, sinks
     * by the heartbeat), so a sink that is down is not spammed by the others' retries.
     */
    async announce(a: Announcement): Promise<AnnounceResult> {
      const ctx = Context.current();
      const info = ctx.info;
      const done = new Set<string>((info.heartbeatDetails as string[] | undefined) ?? []);
      const result: AnnounceResult = { events: [], notified: [] };
      const errors: { message: string; permanent: boolean }[] = [];
      const run = {
        namespace: info.workflowNamespace ?? info.namespace,
        workflowId: info.workflowExecution?.workflowId ?? '(none)',
        runId: info.workflowExecution?.runId ?? '(none)',
        webUiUrl: deps.webUiUrl,
      };

      for (const [i, e] of a.events.entries()) {
        const key = `event:${i}`;
        if (done.has(key)) continue;
        try {
          const regarding = resolve(a, e.target);
          const outcome = await recordEvent(
            kube,
            { regarding, type: e.type, reason: e.reason, message: e.message },
            { key: `${run.runId}:${a.seq}:${i}`, instance },
          );
          result.events.push(
            `${e.reason} ${regarding.kind}/${regarding.namespace}/${regarding.name}: ${outcome}`,
          );
          done.add(key);
        } catch (err) {
          const permanent = (err as { nonRetryable?: boolean }).nonRetryable === true;
          errors.push({ message: `Event ${e.reason}: ${(err as Error).message}`, permanent });
        }
      }

      const n = a.notification;
      for (const sink of n ? inventory.notifications.filter((s) => s.on.includes(n.kind)) : []) {
        const key = `sink:${sink.name}`;
        if (done.has(key)) continue;
        try {
          await postJson(sink, sinkUrl(sink, env), renderFor(sink.format, a, n!, run, new Date()));
          result.notified.push(sink.name);
          done.add(key);
        } catch (err) {
          if (!(err instanceof SinkError)) throw err;
          errors.push({ message: err.message, permanent: err.permanent });
        }
      }
      ctx.heartbeat([...done]);

      if (errors.length) {
        const message = errors.map((e) => e.message).join('; ');
        // Retrying helps only if something failed for a reason that can pass.
        throw errors.every((e) => e.permanent)
          ? ApplicationFailure.nonRetryable(message, 'AnnounceFailed')
          : ApplicationFailure.retryable(message, 'AnnounceFailed');
      }
      return result;
    },
  };
}
