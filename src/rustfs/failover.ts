import { type AdminClient } from './types';
import { settleWithin } from './deadline';
import { type AdminError, Unavailable, isAdminError } from './errors';

/**
 * An admin client over several nodes of one store, for IAM writes and their read-backs: every
 * call goes to one node and the next call to the same one (a node reads back its own writes at
 * once, its peers only once told), until that node gives no answer — then the call, and those
 * after it, go to the next node. A node that answers, even with an error, keeps the call: only
 * silence or "not ready" moves on, since another node may serve what this one cannot (beta.7,
 * 4 nodes, after a resumed roll: attachPolicy held for 30 s on one node, again and again).
 * Every IAM write the rotator makes is safe to repeat on another node.
 */
export function failoverAdmin(
  endpoints: readonly string[],
  clientFor: (endpoint: string) => AdminClient,
  callMs: number,
): AdminClient {
  if (!endpoints.length) throw new TypeError('failoverAdmin: no endpoint');
  let at = 0;
  let client = clientFor(endpoints[0]!);

  const call = async (op: string, args: unknown[]): Promise<unknown> => {
    const silent: string[] = [];
    for (;;) {
      const node = client;
      try {
        return await settleWithin(
          (node as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[op]!.apply(node, args),
          callMs,
          () =>
            new Unavailable(`${op}: the node did not answer within ${callMs / 1000} s`, { operation: op }),
        );
      } catch (err) {
        if (!isAdminError(err, 'Unavailable') && !isAdminError(err, 'NotReady')) throw err;
        silent.push(`${node.endpoint}: ${(err as AdminError).message}`);
        if (silent.length === endpoints.length)
          throw new Unavailable(
            `${op}: none of the store's ${endpoints.length} nodes answered (${silent.join('; ')})`,
            {
              operation: op,
              cause: err,
            },
          );
        at = (at + 1) % endpoints.length;
        client = clientFor(endpoints[at]!);
      }
    }
  };

  return new Proxy({} as AdminClient, {
    get(_, prop) {
      if (prop === 'endpoint' || prop === 'dialect') return client[prop];
      const member = (client as unknown as Record<PropertyKey, unknown>)[prop];
      if (typeof member !== 'function') return member;
      // live and ready never throw: the current node's answer, as it is.
      if (prop === 'live' || prop === 'ready') return () => client[prop]();
      return (...args: unknown[]) => call(String(prop), args);
    },
  });
}
