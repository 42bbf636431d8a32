/**
 * `p`'s outcome, or the error `late` makes once `ms` have passed. The work behind `p` is not
 * aborted: it ends on its own, and its outcome is dropped.
 */
export function settleWithin<T>(p: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
