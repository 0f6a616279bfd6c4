// Polls a batch through the SDK until `done(status)` holds, every 200 ms up to `limitMs` (a deadline, not a guess at
// how long it takes); returns the batch and the statuses seen in order, or calls `fail` at the deadline.
export async function waitForBatch(client, id, done, limitMs, fail) {
  const start = Date.now();
  const seen = [];
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (seen[seen.length - 1] !== b.status) seen.push(b.status);
    if (done(b.status)) return { batch: b, seen };
    if (Date.now() - start > limitMs) fail(`batch ${id} still ${b.status} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
