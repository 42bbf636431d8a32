// The workflow interceptor every worker registers (src/temporal/workflow-code.ts): each
// activity and local activity a run schedules carries its summary (summaries.ts), recorded
// with the command in the history, whichever proxy or option set scheduled it. An explicit
// summary given at the call wins.
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { activitySummary } from './summaries';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity: (input, next) =>
        next({
          ...input,
          options: {
            ...input.options,
            summary: input.options.summary ?? activitySummary(input.activityType, input.args),
          },
        }),
      scheduleLocalActivity: (input, next) =>
        next({
          ...input,
          options: {
            ...input.options,
            summary: input.options.summary ?? activitySummary(input.activityType, input.args),
          },
        }),
    },
  ],
});
