import { type DataConverter } from '@temporalio/common';
import { type AesGcmCodec } from './codec';

// Kept apart from the worker's construction so that clients (every CLI command) load
// @temporalio/client only, never @temporalio/worker and its native bridge.

export const DEFAULT_TASK_QUEUE = 'rustfs-rotator';

/** The data converter the worker and every client share: the codec when a key is set. */
export function dataConverter(codec: AesGcmCodec | undefined): DataConverter | undefined {
  return codec ? { payloadCodecs: [codec] } : undefined;
}
