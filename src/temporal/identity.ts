/**
 * The identity the `rotator` CLI's client carries (`rotator-cli:<user>@<host>`), so a run's
 * history says it was started or answered from the CLI (src/timeline/trigger.ts reads it).
 */
export const CLI_IDENTITY_PREFIX = 'rotator-cli:';
