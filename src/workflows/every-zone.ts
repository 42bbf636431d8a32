import { ApplicationFailure } from '@temporalio/workflow';
import { errorMessage } from './errors';

/** Runs `step` for every zone at once; fails after all have ended, naming each failed zone. */
export async function everyZone<Z extends { name: string }>(
  zones: readonly Z[],
  step: (zone: Z) => Promise<unknown>,
  what: string,
): Promise<void> {
  const results = await Promise.allSettled(zones.map(step));
  const failed = zones.flatMap((z, i) => {
    const r = results[i]!;
    return r.status === 'rejected' ? [`${z.name} (${errorMessage(r.reason)})`] : [];
  });
  if (failed.length === 0) return;
  throw ApplicationFailure.create({
    type: 'ZoneStepsFailed',
    nonRetryable: true,
    message: `${failed.length} of ${zones.length} zone(s) not ${what}: ${failed.join(', ')}`,
  });
}
