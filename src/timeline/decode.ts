// A history's payloads as the codec wrote them are ciphertext: decoding them is the one
// asynchronous step before the timeline (timelineFromHistory is pure and synchronous).
import { type Payload, type PayloadCodec } from '@temporalio/common';
import { type temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

const isPayload = (v: unknown): v is Payload =>
  typeof v === 'object' && v !== null && 'metadata' in v && 'data' in v && typeof v.metadata === 'object';

/**
 * Decodes every payload of `history` in place with `codec` (inputs, update arguments, memo,
 * the summaries of its commands) and returns it. Payloads the codec did not encode pass
 * through unchanged; without a codec the history is returned as it is.
 */
export async function decodeHistory(history: History, codec: PayloadCodec | undefined): Promise<History> {
  if (!codec) return history;
  const found: { holder: Record<string, unknown>; key: string; payload: Payload }[] = [];
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return;
    for (const [key, value] of Object.entries(node)) {
      if (isPayload(value)) found.push({ holder: node as Record<string, unknown>, key, payload: value });
      else walk(value);
    }
  };
  walk(history.events);
  const decoded = await codec.decode(found.map((f) => f.payload));
  found.forEach((f, i) => {
    f.holder[f.key] = decoded[i];
  });
  return history;
}
