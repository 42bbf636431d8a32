// Who started a run, from its start event alone: a schedule, a parent run, the rotator CLI,
// the temporal CLI, the Web UI, or another SDK client.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { type temporal } from '@temporalio/proto';
import { CLI_IDENTITY_PREFIX } from '../temporal/identity';

export type TriggerKind = 'cli' | 'web-ui' | 'schedule' | 'parent' | 'temporal-cli' | 'client';

export interface Trigger {
  kind: TriggerKind;
  /** One sentence: "rotator CLI (alice@laptop)", "schedule rotator-monthly", ... */
  description: string;
  identity?: string;
  scheduleId?: string;
  parentWorkflowId?: string;
}

export function classifyTrigger(
  started: temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes,
): Trigger {
  const identity = started.identity ?? '';
  const scheduledBy = started.searchAttributes?.indexedFields?.TemporalScheduledById;
  if (scheduledBy) {
    let scheduleId = '';
    try {
      scheduleId = String(defaultPayloadConverter.fromPayload(scheduledBy as Payload));
    } catch {
      scheduleId = '?';
    }
    return { kind: 'schedule', description: `schedule ${scheduleId}`, identity, scheduleId };
  }
  if (started.parentWorkflowExecution?.workflowId) {
    const parent = started.parentWorkflowExecution.workflowId;
    return { kind: 'parent', description: `child of workflow ${parent}`, identity, parentWorkflowId: parent };
  }
  if (identity.startsWith(CLI_IDENTITY_PREFIX)) {
    return {
      kind: 'cli',
      description: `rotator CLI (${identity.slice(CLI_IDENTITY_PREFIX.length)})`,
      identity,
    };
  }
  if (identity.startsWith('temporal-cli'))
    return { kind: 'temporal-cli', description: `temporal CLI (${identity})`, identity };
  // The Web UI's Start Workflow form sends an identity only for a logged-in user, their
  // e-mail (temporalio/ui startWorkflow(): `...(identity && { identity })`, identity =
  // authUser.email || ''); the local dev server has no login, so none. (Any other client
  // that sends none, e.g. a raw HTTP API call, looks the same.) SDK clients default to
  // "<pid>@<host>"; test/integration/web-ui-start sends the UI's own requests.
  const email = /^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(identity) && !/^\d+@/.test(identity);
  if (!identity || /web-?ui|temporal-ui/i.test(identity) || email) {
    return { kind: 'web-ui', description: `Temporal Web UI${identity ? ` (${identity})` : ''}`, identity };
  }
  return { kind: 'client', description: `SDK client ${identity}`, identity };
}
