import { type DataConverter } from '@temporalio/common';
import { type AesGcmCodec } from './codec';

// Kept apart from the worker's construction so that clients (every CLI command) load
// @temporalio/client only, never @temporalio/worker and its native bridge.

export const DEFAULT_TASK_QUEUE = 'rustfs-rotator';

/** The failure converter (failure-converter.ts) by path, as the SDK loads it, for clients, workers and bundles. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter the worker and every client share: failure messages and stack traces
 * as payloads, and the codec, when a key is set, over every payload those included.
 */
export function dataConverter(codec: AesGcmCodec | undefined): DataConverter {
  return { failureConverterPath: FAILURE_CONVERTER_PATH, ...(codec && { payloadCodecs: [codec] }) };
}
