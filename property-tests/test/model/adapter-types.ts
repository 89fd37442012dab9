import type { Clock, Hasher, Journal, LocalTree, ObjectStore } from '@syncjournal/core';

/** What the model's user does to a local tree, around the port (no checks, no trash). */
export interface UserTree {
  readonly tree: LocalTree;
  /** Writes a file; `keepMtime` gives it the mtime the file had (a same-size edit that fools stat). */
  write(path: string, data: Uint8Array, options?: { keepMtime?: boolean }): Promise<void>;
  remove(path: string): Promise<void>;
  /** Every file, by path. */
  files(): Promise<Map<string, Uint8Array>>;
  /** What the tree's trash holds, with the location the tree reported for it. */
  trashed(): Promise<Array<{ location: string; data: Uint8Array }>>;
  /** Makes a folder unreadable (permissions, a failing disk), or readable again. */
  setUnreadable(folder: string, unreadable: boolean): Promise<void>;
  /**
   * Puts a symbolic link at `path` (its parent folders made as needed; nothing may be
   * there); `remove` takes it away. Absent on trees without links (OPFS).
   */
  link?(path: string): Promise<void>;
}

/** What a teammate does to the shared store, and what the test reads back from it. */
export interface UserStore {
  readonly store: ObjectStore;
  /** A teammate's unconditional write or delete. */
  put(key: string, data: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  /** Every current object, reserved keys (trash) included. */
  objects(): Promise<Map<string, Uint8Array>>;
  /** Every kept old version's bytes with its id (stores with versioning). */
  versions(): Promise<Array<{ key: string; versionId: string; data: Uint8Array }>>;
}

/** The adapters one model case runs on. */
export interface Adapters {
  readonly name: string;
  /** SHA-256 for the engine, the journals and the test's own content identities. */
  readonly hasher: Hasher;
  /** The engine's clock: a manual one where the tree's times follow it. */
  readonly clock: Clock;
  /** Moves time on (a no-op where the adapters read the wall clock). */
  advance(ms: number): Promise<void>;
  readonly store: UserStore;
  newTree(client: string): Promise<UserTree>;
  /** True when every case shares one journal (its test verifies and rebuilds it once). */
  readonly sharedJournal: boolean;
  /** A fresh journal for a client (or a fresh pair id in a shared one): a lost state dir. */
  newJournal(client: string): Promise<{ journal: Journal; pairId: string }>;
  /** Releases what the case used (temp dirs). */
  dispose(): Promise<void>;
}
