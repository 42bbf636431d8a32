// Workflows that do nothing but orchestrate: the floor under benchmark 3. Each measures what
// the Temporal server and SDK cost on this machine, with no store or Kubernetes call in it.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type * as activities from './activities';

const local = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '1 minute' });
const remote = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

/** `locals` local activities in a row, then `remotes` regular ones. */
export async function Floor(input: { locals: number; remotes: number }): Promise<number> {
  let n = 0;
  for (let i = 0; i < input.locals; i++) n += await local.noop();
  for (let i = 0; i < input.remotes; i++) n += await remote.noop();
  return n;
}
