import type { Journal } from '../ports/journal.js';
import type { JournalEvent } from './events.js';

/** Every event of the journal in `seq` order, read a page at a time (a long journal never sits in memory). */
export async function* eachEvent(journal: Journal, pageSize = 5000): AsyncIterable<JournalEvent> {
  let after = 0;
  for (;;) {
    const page = await journal.events({ afterSeq: after, limit: pageSize });
    yield* page;
    if (page.length < pageSize) return;
    after = page.at(-1)!.seq;
  }
}
