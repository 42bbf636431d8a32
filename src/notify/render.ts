// The bodies webhook sinks receive: a generic JSON object, or Slack's incoming-webhook shape
// ({text, blocks}). Built only from the announcement (fingerprints, IDs, phases) and the run's
// identity, so nothing here can carry a secret.
import type { NotificationSink } from '../inventory/schema';
import type { Announcement, NotificationSpec, NotifyKind } from '../workflows/types';

export interface RunRef {
  namespace: string;
  workflowId: string;
  runId: string;
  /** The Web UI's base URL, when the worker knows it (ROTATOR_WEB_UI_URL). */
  webUiUrl?: string;
}

/** A run's page in the Temporal Web UI. */
export function runLink(run: RunRef): string | undefined {
  if (!run.webUiUrl) return undefined;
  const base = run.webUiUrl.replace(/\/+$/, '');
  const e = encodeURIComponent;
  return `${base}/namespaces/${e(run.namespace)}/workflows/${e(run.workflowId)}/${e(run.runId)}`;
}

export interface GenericNotification {
  source: 'rustfs-rotator';
  kind: NotifyKind;
  workflow: Announcement['workflow'];
  zone?: string;
  namespace: string;
  workflowId: string;
  runId: string;
  title: string;
  text: string;
  deadline?: NotificationSpec['deadline'];
  commands?: string[];
  link?: string;
  at: string;
}

export function renderGeneric(
  a: Announcement,
  n: NotificationSpec,
  run: RunRef,
  at: Date,
): GenericNotification {
  return {
    source: 'rustfs-rotator',
    kind: n.kind,
    workflow: a.workflow,
    ...(a.zone ? { zone: a.zone } : {}),
    namespace: run.namespace,
    workflowId: run.workflowId,
    runId: run.runId,
    title: n.title,
    text: n.text,
    ...(n.deadline ? { deadline: n.deadline } : {}),
    ...(n.commands?.length ? { commands: n.commands } : {}),
    ...(runLink(run) ? { link: runLink(run) } : {}),
    at: at.toISOString(),
  };
}

const ICON: Record<NotifyKind, string> = {
  'awaiting-approval': ':raised_hand:',
  paused: ':double_vertical_bar:',
  failed: ':x:',
  'rolled-back': ':leftwards_arrow_with_hook:',
  canceled: ':no_entry_sign:',
  escalated: ':warning:',
  completed: ':white_check_mark:',
};

/** Slack mrkdwn: &, < and > are control characters. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface SlackMessage {
  text: string;
  blocks: object[];
}

export function renderSlack(a: Announcement, n: NotificationSpec, run: RunRef): SlackMessage {
  const link = runLink(run);
  const runName = `${run.workflowId} (run ${run.runId})`;
  const blocks: object[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${ICON[n.kind]} *${esc(n.title)}*\n${esc(n.text)}` } },
  ];
  if (n.deadline) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*${esc(n.deadline.what)}* at ${esc(n.deadline.at)}` },
    });
  }
  if (n.commands?.length) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `Answer with:\n\`\`\`${n.commands.map(esc).join('\n')}\`\`\`` },
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: link ? `<${link}|Open ${esc(runName)} in the Temporal Web UI>` : esc(runName),
      },
    ],
  });
  // `text` is what notifications and clients without blocks show.
  const text = `${n.title}: ${n.text}${link ? ` — ${link}` : ''}`;
  return { text, blocks };
}

export function renderFor(
  format: NotificationSink['format'],
  a: Announcement,
  n: NotificationSpec,
  run: RunRef,
  at: Date,
): object {
  return format === 'slack' ? renderSlack(a, n, run) : renderGeneric(a, n, run, at);
}
