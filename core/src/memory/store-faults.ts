import { platformError } from './platform-error.js';

/** The listing a page belongs to: which page it is and which keys it hides. */
interface ListingState {
  page: number;
  hidden: ReadonlySet<string>;
}

/**
 * The faults a {@link MemoryStore} has been told to inject, and the bookkeeping that
 * decides when each fires. Kept apart from the store so its data paths read plainly.
 */
export class StoreFaults {
  /** page index → how many more requests for that page fail. */
  readonly #listPages = new Map<number, number>();
  /** The listing each handed-out cursor continues. */
  readonly #listings = new Map<string, ListingState>();
  #hideNext = new Set<string>();
  readonly #puts: Array<{ key?: string | undefined; afterWrite: boolean }> = [];
  readonly #deletes: Array<{ key?: string | undefined }> = [];
  #beforePut: ((key: string) => void | Promise<void>) | undefined;

  failListPage(page: number, times: number): void {
    this.#listPages.set(page, (this.#listPages.get(page) ?? 0) + times);
  }

  failNextPut(options: { key?: string; afterWrite?: boolean }): void {
    this.#puts.push({ key: options.key, afterWrite: options.afterWrite ?? false });
  }

  failNextDelete(options: { key?: string }): void {
    this.#deletes.push({ key: options.key });
  }

  beforeNextPut(hook: (key: string) => void | Promise<void>): void {
    this.#beforePut = hook;
  }

  hideFromNextListing(key: string): void {
    this.#hideNext.add(key);
  }

  /**
   * Which page of which listing a request is. A cursor this store did not hand out
   * (or one already used) is placed by `keysUpToCursor`, the keys before it.
   */
  beginPage(
    cursor: string | undefined,
    pageSize: number,
    keysUpToCursor: () => number,
  ): ListingState {
    if (cursor === undefined) return { page: 0, hidden: this.#hideNext };
    return (
      this.#listings.get(cursor) ?? {
        page: Math.ceil(keysUpToCursor() / pageSize),
        hidden: new Set(),
      }
    );
  }

  /** Throws `ServiceUnavailable` when page `page` was told to fail. */
  checkListPage(page: number): void {
    const remaining = this.#listPages.get(page) ?? 0;
    if (remaining <= 0) return;
    if (remaining === 1) this.#listPages.delete(page);
    else this.#listPages.set(page, remaining - 1);
    throw platformError('ServiceUnavailable', `injected failure: listing page ${page} failed`);
  }

  /** Records a page that was served, so its `next` cursor continues the same listing. */
  endPage(cursor: string | undefined, next: string | null, state: ListingState): void {
    // The hidden keys are spent only once a listing's first page was actually served.
    if (cursor === undefined) this.#hideNext = new Set();
    else this.#listings.delete(cursor);
    if (next !== null) this.#listings.set(next, { page: state.page + 1, hidden: state.hidden });
  }

  async runBeforePut(key: string): Promise<void> {
    const hook = this.#beforePut;
    this.#beforePut = undefined;
    await hook?.(key);
  }

  /** The first queued put fault that matches `key`, removed from the queue. */
  takePutFault(key: string): { afterWrite: boolean } | undefined {
    const i = this.#puts.findIndex((f) => f.key === undefined || f.key === key);
    return i < 0 ? undefined : this.#puts.splice(i, 1)[0];
  }

  /** Whether a queued delete fault matches `key` (and removes it). */
  takeDeleteFault(key: string): boolean {
    const i = this.#deletes.findIndex((f) => f.key === undefined || f.key === key);
    if (i >= 0) this.#deletes.splice(i, 1);
    return i >= 0;
  }
}
