// Events and notifications leave the run through the `announce` activity, started and never
// awaited by a step: a sink that is down, or an RBAC that forbids Events, cannot fail or
// stall a rotation or its compensation. Each is started in a non-cancellable scope (a
// cancel must still be told), and the run waits for all of them only at its very end.
import { CancellationScope, log } from '@temporalio/workflow';
import { announcing } from './activities';
import { type Announcement, type ClusterEvent, type NotificationSpec, type WorkflowStatus } from './types';

export class Announcer {
  private seq = 0;
  private inFlight: Promise<void>[] = [];
  private queued: ClusterEvent[] = [];
  private enabled: boolean | undefined;

  constructor(
    private readonly status: WorkflowStatus,
    private readonly describeError: (err: unknown) => string,
    /** Patch `announce`: runs recorded before announcements existed replay without them. */
    private readonly announces: () => boolean,
  ) {}

  /** Asked at the first announcement, where runs recorded before patches-at-start asked it. */
  private get on(): boolean {
    return (this.enabled ??= this.announces());
  }

  /** Events that go out with the next announcement (saves an activity per step). */
  queue(...events: ClusterEvent[]): void {
    this.queued.push(...events);
  }

  /** Starts one announcement; returns at once. */
  send(events: ClusterEvent[], notification?: NotificationSpec): void {
    const all = [...this.queued, ...events];
    this.queued = [];
    if ((!all.length && !notification) || !this.on) return;
    const a: Announcement = {
      seq: ++this.seq,
      workflow: this.status.workflow,
      ...(this.status.zone ? { zone: this.status.zone } : {}),
      events: all,
      ...(notification ? { notification } : {}),
    };
    const what = [...all.map((e) => e.reason), ...(notification ? [`notify ${notification.kind}`] : [])];
    this.inFlight.push(
      CancellationScope.nonCancellable(() => announcing.announce(a)).then(
        () => undefined,
        (err: unknown) => {
          const message = `${what.join(', ')}: ${this.describeError(err)}`;
          (this.status.announceErrors ??= []).push(message);
          log.warn('announcement not delivered', { seq: a.seq, error: message });
        },
      ),
    );
  }

  /** Waits for every announcement started so far (each bounded by its retry policy). */
  async flush(): Promise<void> {
    const pending = this.inFlight;
    this.inFlight = [];
    await CancellationScope.nonCancellable(() => Promise.all(pending));
  }
}
