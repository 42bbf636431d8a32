// Where the workflow code is, for every worker and bundle (the worker, `npm run build`, the
// tests, the replay): the workflows and the interceptor that records each activity's
// summary. One place, so no worker runs the workflows without it.
export const WORKFLOWS_PATH = require.resolve('../workflows');
export const WORKFLOW_INTERCEPTOR_MODULES: readonly string[] = [require.resolve('../workflows/interceptors')];
