// A Temporal namespace of a test's own on the sandbox's server, for PRIVATE test files
// (scripts/test-lanes.mjs): the rotator's conflict checks and locks look at the runs of one
// namespace, so runs here never meet those of the files that share the default namespace.
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../src/sandbox/temporal-server';
import { type SandboxState } from '../../src/sandbox/state';
import { eventually } from './kube';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** Registers `name` (once; a second call finds it) with the rotator's search attributes, usable on return. */
export async function privateTemporalNamespace(stack: SandboxState, name: string): Promise<string> {
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    await connection.workflowService
      .registerNamespace({ namespace: name, workflowExecutionRetentionPeriod: msToTs('1 day') })
      .catch((err: unknown) => {
        if (!/already exists/i.test(String(err))) throw err;
      });
    // A new namespace reaches the frontend's cache a few seconds after it is registered.
    await eventually(`Temporal namespace ${name} to be served`, async () => {
      try {
        await connection.workflowService.describeNamespace({ namespace: name });
        return true;
      } catch {
        return false;
      }
    });
    await connection.operatorService
      .addSearchAttributes({
        namespace: name,
        searchAttributes: Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((k) => [k, KEYWORD])),
      })
      .catch((err: unknown) => {
        if (!/already exists/i.test(String(err))) throw err;
      });
    await eventually(`search attributes of ${name}`, async () => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: name });
      return Object.keys(SEARCH_ATTRIBUTES).every((k) => k in customAttributes);
    });
    return name;
  } finally {
    await connection.close();
  }
}
