import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../hello-activities';

const { greet } = proxyActivities<typeof activities>({ startToCloseTimeout: '10 seconds' });

/** The smallest real workflow: one activity round trip through the dev server. */
export async function hello(name: string): Promise<string> {
  return await greet(name);
}
