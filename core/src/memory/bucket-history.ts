import { NotFoundError } from '../errors.js';
import { comparePaths } from '../paths.js';
import type { Clock } from '../ports/clock.js';
import type { RemoteObject, RemoteVersion } from '../ports/store.js';
import { contentEtag } from './etag.js';

/** A kept version with its bytes, as {@link MemoryStore.versions} reports it. */
export interface StoredVersion extends RemoteVersion {
  /** The bytes, or `null` for a delete marker. */
  data: Uint8Array | null;
}

/** One entry of a key's history; `data: null` is a delete (a marker on versioned stores). */
export interface HistoryEntry {
  /** When it was written, on the bucket's tick, so snapshots can be read back. */
  tick: number;
  versionId: string | null;
  /** Never mutated once stored, so versions and readers may share it. */
  data: Uint8Array | null;
  etag: string | null;
  sha256: string | null;
  lastModified: string;
}

/**
 * The contents of a {@link MemoryStore} over time: every key's history on one tick
 * counter, so a version or a snapshot is just a point on it. Without versioning or
 * snapshots only each key's latest entry is kept.
 */
export class BucketHistory {
  readonly #versioning: boolean;
  readonly #snapshots: boolean;
  readonly #clock: Clock;
  /** Oldest first. */
  readonly #history = new Map<string, HistoryEntry[]>();
  readonly #snapshotTicks = new Set<number>();
  #tick = 0;
  #nextVersion = 1;
  #sortedKeys: string[] | undefined;

  constructor(options: { versioning: boolean; snapshots: boolean; clock: Clock }) {
    this.#versioning = options.versioning;
    this.#snapshots = options.snapshots;
    this.#clock = options.clock;
  }

  /** The live entry of `key`, or `undefined` when it is missing or deleted. */
  current(key: string): HistoryEntry | undefined {
    const latest = this.#history.get(key)?.at(-1);
    return latest?.data ? latest : undefined;
  }

  /** The keys that exist now, in {@link comparePaths} order. */
  /** Every key that ever held an object, current or not, sorted. */
  everyKey(): string[] {
    return [...this.#history.keys()].sort(comparePaths);
  }

  currentKeys(): string[] {
    this.#sortedKeys ??= [...this.#history.keys()]
      .filter((key) => this.current(key))
      .sort(comparePaths);
    return this.#sortedKeys;
  }

  /** The entry with `versionId` (delete markers included); none without versioning. */
  version(key: string, versionId: string): HistoryEntry | undefined {
    if (!this.#versioning) return undefined;
    return this.#history.get(key)?.find((entry) => entry.versionId === versionId);
  }

  /** Marks the present moment and returns its name. */
  takeSnapshot(): string {
    const tick = ++this.#tick;
    this.#snapshotTicks.add(tick);
    return String(tick);
  }

  /** The tick a snapshot name stands for; `NotFoundError` for names it never gave. */
  snapshotTick(snapshot: string): number {
    const tick = Number(snapshot);
    if (!this.#snapshots || !this.#snapshotTicks.has(tick)) {
      throw new NotFoundError(`The snapshot ${snapshot}`, { snapshot });
    }
    return tick;
  }

  /** The live entry of `key` as of `tick`, or `undefined` when it did not exist then. */
  entryAt(key: string, tick: number): HistoryEntry | undefined {
    const entry = this.#history.get(key)?.findLast((e) => e.tick <= tick);
    return entry?.data ? entry : undefined;
  }

  /** The keys that existed as of `tick`, in {@link comparePaths} order. */
  keysAt(tick: number): string[] {
    return [...this.#history.keys()].filter((key) => this.entryAt(key, tick)).sort(comparePaths);
  }

  /** Writes `data` as the new live entry of `key`. */
  write(key: string, data: Uint8Array, sha256: string | null): RemoteObject {
    return objectOf(key, this.#append(key, { data, etag: contentEtag(data), sha256 }));
  }

  /** Deletes `key`; returns the delete marker's version id on versioned stores, else `null`. */
  erase(key: string): string | null {
    if (!this.#versioning && !this.#snapshots) {
      this.#history.delete(key);
      this.#sortedKeys = undefined;
      return null;
    }
    // S3 adds a delete marker even when nothing was there.
    if (!this.#versioning && !this.current(key)) return null;
    return this.#append(key, { data: null, etag: null, sha256: null }).versionId;
  }

  /**
   * The versions kept for `key`, newest first. Without versioning that is the live
   * object alone, under version id `null` as S3 names it.
   */
  versions(key: string): StoredVersion[] {
    const history = this.#history.get(key) ?? [];
    const visible = this.#versioning ? history : history.slice(-1).filter((e) => e.data);
    return visible
      .slice()
      .reverse()
      .map((entry, i) => ({
        versionId: entry.versionId ?? 'null',
        etag: entry.etag,
        size: entry.data?.length ?? 0,
        lastModified: entry.lastModified,
        isLatest: i === 0,
        isDeleteMarker: entry.data === null,
        sha256: entry.sha256,
        data: entry.data?.slice() ?? null,
      }));
  }

  #append(key: string, entry: Pick<HistoryEntry, 'data' | 'etag' | 'sha256'>): HistoryEntry {
    const full: HistoryEntry = {
      ...entry,
      tick: ++this.#tick,
      versionId: this.#versioning ? `v${this.#nextVersion++}` : null,
      lastModified: new Date(this.#clock.now()).toISOString(),
    };
    const keepAll = this.#versioning || this.#snapshots;
    const history = keepAll ? (this.#history.get(key) ?? []) : [];
    history.push(full);
    this.#history.set(key, history);
    this.#sortedKeys = undefined;
    return full;
  }
}

/** How the port reports an entry. */
export function objectOf(key: string, entry: HistoryEntry): RemoteObject {
  return {
    key,
    size: entry.data?.length ?? 0,
    etag: entry.etag ?? '',
    versionId: entry.versionId,
    sha256: entry.sha256,
    lastModified: entry.lastModified,
  };
}
