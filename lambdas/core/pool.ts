/**
 * Bounded concurrency: `runPool(items, limit, worker)` keeps at most `limit` workers busy.
 * `shouldStart` lets a caller stop taking new items (a Lambda nearing its deadline) while the
 * running ones finish. When a worker throws, no new item starts; the pool waits for the running
 * ones to end and then rethrows the first error, so nothing is left running behind the caller.
 */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  worker: (item: T) => Promise<void>,
  shouldStart: () => boolean = () => true,
): Promise<{ started: number }> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit: expected a positive whole number, got ${limit}`);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < items.length && shouldStart()) {
      const item = items[next++];
      try {
        await worker(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
  return { started: next };
}
