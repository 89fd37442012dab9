import fc from 'fast-check';
import type { StoreFault } from './faults.js';

/**
 * The model's steps, as plain data: fast-check generates and shrinks them, a failure
 * prints them as JSON, and a regression test replays a printed list as it is.
 */

/** Paths users write. No path is a folder of another, so a write never meets a file where a folder is. */
export const PATHS = ['a.md', 'b.md', 'd/c.md', 'd/e.md', 'd/f/g.md', 'h/i.tmp'] as const;

/** Filters a client may switch to (and the spec the engine journals). */
export const FILTERS = [null, { exclude: 'h/' }, { exclude: '.tmp' }, { exclude: 'd/f/' }] as const;

export const POLICIES = ['keep-both', 'prefer-local', 'prefer-remote', 'newer'] as const;

export type Step =
  /** A user creates or edits a file; `grow` changes its size, `keepMtime` keeps size and mtime. */
  | { t: 'write'; client: number; path: number; grow: boolean; keepMtime: boolean }
  /** Two users make the identical edit. */
  | { t: 'write-same'; clients: [number, number]; path: number }
  | { t: 'delete'; client: number; pick: number }
  | { t: 'rename'; client: number; pick: number; to: number }
  /** A user creates an empty folder (nothing to sync; the scan must not trip on it). */
  | { t: 'make-folder'; client: number; folder: 'new' | 'd/new' }
  /** A user deletes a folder and everything in it. */
  | { t: 'delete-folder'; client: number; folder: 'd/' | 'd/f/' | 'h/' }
  | { t: 'teammate-write'; path: number }
  | { t: 'teammate-delete'; pick: number }
  | {
      t: 'sync';
      client: number;
      faults: StoreFault[];
      /** Crash at the n-th port call, before or after it. */
      crash: { at: number; after: boolean } | null;
    }
  /** Time passes: `ms` of 0 keeps a scan and an edit in the same clock tick. */
  | { t: 'tick'; ms: number }
  /** The client's state dir is wiped: its journal is gone, its folder is not. */
  | { t: 'lose-journal'; client: number }
  | { t: 'filter'; client: number; filter: number }
  /** A folder becomes unreadable (or readable again): the scan is incomplete. */
  | { t: 'unreadable'; client: number; folder: (typeof FOLDERS)[number]; on: boolean }
  /**
   * A user puts a symbolic link at a path, in place of the file there if any (as stow or
   * git-annex do), or removes the link again: the engine must leave it alone.
   */
  | { t: 'link'; client: number; path: number; on: boolean };

export const FOLDERS = ['d', 'd/f', 'h'] as const;

/**
 * Store faults. A race between our check and our put cannot be detected by a store
 * without conditional writes (docs/providers.md): `races: false` leaves it out there.
 */
function faultArbitrary(races: boolean): fc.Arbitrary<StoreFault> {
  return fc.oneof(
    fc.record({ kind: fc.constant('fail-list-page' as const), page: fc.nat(2) }),
    fc.record({ kind: fc.constant('fail-put' as const), nth: fc.nat(3), afterWrite: fc.boolean() }),
    fc.record({ kind: fc.constant('fail-delete' as const), nth: fc.nat(2) }),
    fc.record({
      kind: fc.constant(races ? ('race-put' as const) : ('fail-delete' as const)),
      nth: fc.nat(3),
    }) as fc.Arbitrary<StoreFault>,
    fc.record({ kind: fc.constant('hide-from-listing' as const), nth: fc.nat(2) }),
    fc.record({ kind: fc.constant('user-edit' as const), nth: fc.nat(2) }),
  );
}

/** One step; `clients` bounds the client indexes. */
export function stepArbitrary(clients: number, options: StepOptions = {}): fc.Arbitrary<Step> {
  const c = fc.nat(clients - 1);
  const fault = faultArbitrary(options.races ?? true);
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant('write' as const),
        client: c,
        path: fc.nat(PATHS.length - 1),
        grow: fc.boolean(),
        keepMtime: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('write-same' as const),
        clients: fc.tuple(c, c),
        path: fc.nat(PATHS.length - 1),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constant('delete' as const), client: c, pick: fc.nat() }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('rename' as const),
        client: c,
        pick: fc.nat(),
        to: fc.nat(PATHS.length - 1),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('delete-folder' as const),
        client: c,
        folder: fc.constantFrom('d/' as const, 'd/f/' as const, 'h/' as const),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('make-folder' as const),
        client: c,
        folder: fc.constantFrom('new' as const, 'd/new' as const),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('teammate-write' as const),
        path: fc.nat(PATHS.length - 1),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ t: fc.constant('teammate-delete' as const), pick: fc.nat() }),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        t: fc.constant('sync' as const),
        client: c,
        faults: fc.oneof(
          { weight: 3, arbitrary: fc.constant<StoreFault[]>([]) },
          { weight: 2, arbitrary: fc.array(fault, { maxLength: 2 }) },
        ),
        crash: fc.oneof(
          { weight: 3, arbitrary: fc.constant(null) },
          {
            weight: 1,
            arbitrary: fc.record({ at: fc.integer({ min: 1, max: 25 }), after: fc.boolean() }),
          },
        ),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(0, 1, 5000) }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('lose-journal' as const), client: c }) },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant('filter' as const),
        client: c,
        filter: fc.nat(FILTERS.length - 1),
      }),
    },
    {
      // A tree that cannot make a folder unreadable (OPFS) gets no such step.
      weight: options.unreadable === false ? 0 : 1,
      arbitrary: fc.record({
        t: fc.constant('unreadable' as const),
        client: c,
        folder: fc.constantFrom(...FOLDERS),
        on: fc.boolean(),
      }),
    },
    {
      // A tree without symbolic links (OPFS) gets no such step.
      weight: options.links === false ? 0 : 2,
      arbitrary: fc.record({
        t: fc.constant('link' as const),
        client: c,
        path: fc.nat(PATHS.length - 1),
        on: fc.boolean(),
      }),
    },
  );
}

/** What the adapters under test can play. */
export interface StepOptions {
  /** The store detects a racing write (conditional writes): default true. */
  races?: boolean;
  /** The tree can make a folder unreadable: default true. */
  unreadable?: boolean;
  /** The tree can hold symbolic links: default true. */
  links?: boolean;
}

/** A whole case: how many clients, their conflict policies, and the steps. */
export interface Scenario {
  clients: number;
  policies: Array<(typeof POLICIES)[number]>;
  steps: Step[];
}
