import type { ConflictResolution, OpAction, PlanOpPayload, SideState } from '../journal/events.js';
import { atOrUnder, comparePaths } from '../paths.js';
import { RESERVED_PREFIX } from '../scan/lister.js';
import { DECISION_TABLE, type DecisionRowId } from './decision-table.js';
import { conflictCopyPath, unsafeKeyReason } from './safe-path.js';

/**
 * The reconciler's rules, journaled with each run (`run.started`'s options) so that an
 * audit replays a past run by the rules it was planned with.
 * - 1 (runs journaled without a number): remote keys unsafe by their own spelling;
 *   on a tree that ignores case, every path sharing its case with another skipped.
 * - 2: also remote keys with a backslash or a syncjournal temp name, and local paths
 *   under `.syncjournal/` (the bucket keeps syncjournal's own keys there); case and
 *   file/folder clashes judged on what the local tree would hold after the plan, so only
 *   the local writes that could not land are skipped (a case-only rename syncs). A tree
 *   that folds accent encodings too (macOS) has its writes judged the same way; such runs
 *   journal `normalizationInsensitive`, and runs without it plan exactly as before.
 */
export const RECONCILE_RULES = 2;

/** A path's merge base. */
export interface BaseEntry {
  path: string;
  hash: string;
  size: number;
  etag: string | null;
  versionId?: string | null;
}

/** A local file as scanned. */
export interface LocalEntry {
  path: string;
  hash: string;
  size: number;
  mtimeMs: number;
  ino?: string | null;
}

/** A remote object as listed. */
export interface RemoteEntry {
  path: string;
  size: number;
  etag: string | null;
  versionId?: string | null;
  sha256?: string | null;
  /** ISO time the store reports, for the `newer` conflict policy. */
  lastModified?: string | null;
}

/**
 * What to do when both sides changed a file differently. Every policy keeps the
 * version it does not put under the name recoverable.
 */
export type ConflictPolicy = 'keep-both' | 'prefer-local' | 'prefer-remote' | 'newer';

/**
 * Everything the reconciler decides from. All of it is journaled (scan and listing
 * deltas, baseline, run options), so an audit can replay a run and must get the same
 * plan byte for byte.
 */
export interface ReconcileInput {
  /** Sorted by {@link comparePaths}, unique paths — as the journal returns them. */
  base: readonly BaseEntry[];
  local: readonly LocalEntry[];
  remote: readonly RemoteEntry[];
  /** Directories the scan could not read: the local state under them is unknown. */
  localUnknown: readonly string[];
  /**
   * Local entries the scan leaves out (symbolic links, special files, names that
   * cannot be read back): nothing at or under them is written, deleted or uploaded.
   * Default none.
   */
  localLeftOut?: readonly string[];
  /**
   * Undefined when the listing completed; otherwise the last key it reached (`null`
   * when not even the first page came back). Keys after it are unknown.
   */
  remoteListedThrough?: string | null;
  /** The local tree folds case (two keys differing by case would collide). */
  caseInsensitive: boolean;
  /**
   * The local tree treats a name's NFC and NFD encodings as one (macOS): two keys that
   * differ only so would collide. Default false.
   */
  normalizationInsensitive?: boolean;
  /** Names conflict copies. */
  clientId: string;
  /** The plan's time, for conflict copy names. */
  planTimeMs: number;
  /** True for paths the pair's filters exclude: they are left alone on both sides. */
  excluded?: (path: string) => boolean;
  /** Other paths known to exist (when reconciling a subset), so conflict copies avoid them. */
  reserved?: Iterable<string>;
  /** Default `keep-both`. */
  policy?: ConflictPolicy;
  /** Which {@link RECONCILE_RULES} to plan by (default: the current ones). */
  rules?: number;
  /**
   * When reconciling a subset of paths: the other paths the local tree holds, so that
   * a write the plan makes is checked against them for clashes (rules 2).
   */
  localElsewhere?: Iterable<string>;
}

/** One planned operation. */
export interface PlanOp extends PlanOpPayload {
  path: string;
  row: DecisionRowId;
}

/** The reconciler's output: operations as data, in path order. */
export interface Plan {
  ops: PlanOp[];
  /** Paths with a baseline that the filters now exclude (kept as they are, never deleted). */
  excludedWithBase: string[];
}

/**
 * The three-way reconciler: base, local and remote in, a plan out. Pure — no I/O, no
 * clock — so the same input gives a byte-identical plan. Walks the three sorted
 * lists together, one path at a time, and applies the decision table.
 */
export function reconcile(input: ReconcileInput): Plan {
  for (const [name, list] of [
    ['base', input.base],
    ['local', input.local],
    ['remote', input.remote],
  ] as const) {
    for (let i = 1; i < list.length; i++) {
      // A merge-walk over unsorted lists would pair the wrong states, and could delete.
      if (comparePaths(list[i - 1]!.path, list[i]!.path) >= 0) {
        throw new Error(
          `reconcile: ${name} must be sorted by comparePaths with unique paths (${list[i]!.path})`,
        );
      }
    }
  }
  const ops: PlanOp[] = [];
  const excludedWithBase: string[] = [];
  const taken = new Set<string>();
  for (const list of [input.base, input.local, input.remote])
    for (const e of list) taken.add(e.path);
  for (const p of input.reserved ?? []) taken.add(p);
  const localHash = new Map(input.local.map((e) => [e.path, e.hash]));
  const rules = input.rules ?? RECONCILE_RULES;
  const collisions = rules < 2 && input.caseInsensitive ? caseCollisions(taken) : new Set<string>();
  const localUnknown = atOrUnder(input.localUnknown);
  const localLeftOut = atOrUnder(input.localLeftOut ?? []);

  let b = 0;
  let l = 0;
  let r = 0;
  const { base, local, remote } = input;
  while (b < base.length || l < local.length || r < remote.length) {
    const path = minPath(base[b]?.path, local[l]?.path, remote[r]?.path);
    const B = base[b]?.path === path ? base[b++] : undefined;
    const L = local[l]?.path === path ? local[l++] : undefined;
    const R = remote[r]?.path === path ? remote[r++] : undefined;

    if (input.excluded?.(path)) {
      if (B) excludedWithBase.push(path);
      continue;
    }
    const push = (row: DecisionRowId, extra: Partial<PlanOp> = {}) => {
      const entry = DECISION_TABLE[row];
      ops.push({
        index: ops.length,
        path,
        action: entry.action as OpAction,
        row,
        why: entry.why,
        base: B ? side(B) : null,
        local: L ? side(L) : null,
        remote: R ? side(R) : null,
        ...extra,
      });
    };

    if (R && !B && !L && unsafeKeyReason(path, rules) !== null) {
      push('unsafe-key', {
        why: `${DECISION_TABLE['unsafe-key'].why}: ${unsafeKeyReason(path, rules)}`,
      });
      continue;
    }
    if (rules >= 2 && L && path.startsWith(RESERVED_PREFIX)) {
      // The listing hides these keys and an upload would land among syncjournal's own.
      push('unsafe-key', {
        why: `this local path is reserved: the bucket keeps syncjournal's own keys under ${RESERVED_PREFIX}`,
      });
      continue;
    }
    if (collisions.has(path)) {
      push('unsafe-key', {
        why: `${DECISION_TABLE['unsafe-key'].why}: another key differs from it only by case, and the local folder ignores case`,
      });
      continue;
    }
    const leftOut = localLeftOut(path);
    const localIsUnknown = leftOut || localUnknown(path);
    const remoteIsUnknown =
      input.remoteListedThrough !== undefined &&
      (input.remoteListedThrough === null || comparePaths(path, input.remoteListedThrough) > 0);
    if (localIsUnknown || remoteIsUnknown) {
      // Decide as if the unknown side were unchanged; if that still calls for an op,
      // skip it and say why, rather than act on a guess.
      const assumedLocal = localIsUnknown ? (B ? { ...B, mtimeMs: 0 } : undefined) : L;
      const assumedRemote = remoteIsUnknown ? (B ? { ...B, sha256: B.hash } : undefined) : R;
      if (decide(B, assumedLocal, assumedRemote) !== null) {
        push(leftOut ? 'local-left-out' : localIsUnknown ? 'local-unknown' : 'remote-unknown');
      }
      continue;
    }

    const row = decide(B, L, R);
    if (row === null) continue;
    const resolution =
      row === 'both-changed' || row === 'both-new-different'
        ? resolve(input.policy, L!, R!)
        : undefined;
    if (resolution && resolution !== 'keep-both') {
      push(row, { resolution });
    } else if (resolution) {
      // A run that crashed after keeping the local version leaves that copy behind:
      // reuse it rather than keep the same content twice.
      const conflictPath =
        existingConflictCopy(path, input.clientId, L!.hash, localHash) ??
        conflictCopyPath(path, input.clientId, input.planTimeMs, (c) => taken.has(c));
      taken.add(conflictPath);
      push(row, { conflictPath });
    } else {
      push(row);
    }
  }
  if (rules >= 2) skipClashingWrites(ops, input);
  return { ops, excludedWithBase };
}

/** Rows whose op writes its path in the local tree (unless the local version is kept). */
const LOCAL_WRITES = new Set<DecisionRowId>([
  'remote-new',
  'remote-changed',
  'local-deleted-remote-changed',
  'both-changed',
  'both-new-different',
]);

/**
 * Rules 2: the local writes a plan makes that the local tree could not hold beside
 * what it keeps are skipped and reported as unsafe keys, before anything runs. Judged
 * on the tree after the plan (its files, less the local deletes, plus every write): a
 * path sharing its spelling but for case with another, on a tree that ignores case, or
 * but for how its accents are encoded (NFC or NFD), on a tree that ignores that (the
 * write would land on the other file, or under the other spelling of a folder); a file
 * where a folder is; a file inside a path that is a file. Every write in a clash is
 * skipped, so none overwrites another whichever ran first; files already there stay.
 */
function skipClashingWrites(ops: PlanOp[], input: ReconcileInput): void {
  const writes = new Map<string, PlanOp>();
  for (const op of ops) {
    if (!LOCAL_WRITES.has(op.row) || op.resolution === 'keep-local') continue;
    writes.set(op.path, op);
    if (op.conflictPath) writes.set(op.conflictPath, op);
  }
  if (writes.size === 0) return;
  const fold = folding(input);
  const folds = input.caseInsensitive || input.normalizationInsensitive === true;
  const deleted = new Set(ops.filter((o) => o.action === 'delete-local').map((o) => o.path));
  // The spellings the tree would hold, by folded path, for files and for folders.
  const files = new Spellings(fold);
  const folders = new Spellings(fold);
  const hold = (p: string) => {
    files.add(p);
    for (const folder of foldersOf(p)) folders.add(folder);
  };
  // Only some paths can clash with a write: one that is the write or one of its folders,
  // one inside the write, and (ignoring case) one inside a spelling of its folders. The
  // rest of a large tree is passed over without being kept.
  const written = new Set<string>();
  const near = new Set<string>();
  for (const p of writes.keys()) {
    const key = fold(p);
    written.add(key);
    near.add(key);
    for (const folder of foldersOf(key)) near.add(folder);
  }
  const inside = folds ? near : written;
  const isNear = (p: string) => {
    const key = fold(p);
    return near.has(key) || foldersOf(key).some((folder) => inside.has(folder));
  };
  if (folds) {
    for (const e of input.local) if (!deleted.has(e.path) && isNear(e.path)) hold(e.path);
  } else {
    // The same, without touching every path: the files at a write or its folders, and
    // the sorted range of files inside each write.
    for (const e of input.local) if (near.has(e.path) && !deleted.has(e.path)) hold(e.path);
    for (const w of written) {
      const prefix = `${w}/`;
      for (let i = lowerBound(input.local, prefix); i < input.local.length; i++) {
        const path = input.local[i]!.path;
        if (!path.startsWith(prefix)) break;
        if (!deleted.has(path)) hold(path);
      }
    }
  }
  for (const p of input.localElsewhere ?? []) if (!deleted.has(p) && isNear(p)) hold(p);
  for (const p of writes.keys()) hold(p);

  const clashes = new Map<PlanOp, string>();
  for (const [p, op] of writes) {
    if (clashes.has(op)) continue;
    let reason: string | undefined;
    const twins = files.others(p);
    if (twins.length > 0) {
      const { differs, folds } = twinReason(p, twins);
      reason = `another path differs from it only ${differs} (${twins.join(', ')}), and the local folder ${folds}`;
    } else if (folders.has(p)) {
      reason = `the local folder has, or would get, a folder at ${folders.first(p)}`;
    } else {
      for (const folder of foldersOf(p)) {
        if (files.has(folder)) {
          reason = `a file is, or would be, at ${files.first(folder)}, where its folder goes`;
          break;
        }
        const spellings = folders.others(folder);
        if (spellings.length > 0) {
          const { differs, folds } = twinReason(folder, spellings);
          reason = `its folder ${folder} differs only ${differs} from ${spellings.join(', ')}, and the local folder ${folds}`;
          break;
        }
      }
    }
    if (reason) clashes.set(op, reason);
  }
  for (const [op, reason] of clashes) {
    ops[op.index] = {
      index: op.index,
      path: op.path,
      action: 'skip',
      row: 'unsafe-key',
      why: `this path cannot be written in the local folder: ${reason}`,
      base: op.base,
      local: op.local,
      remote: op.remote,
    };
  }
}

/** The form of a path under which the local tree cannot tell its spellings apart. */
function folding(input: ReconcileInput): (path: string) => string {
  const ci = input.caseInsensitive;
  if (input.normalizationInsensitive) {
    return ci ? (p) => p.toLowerCase().normalize('NFC') : (p) => p.normalize('NFC');
  }
  return ci ? (p) => p.toLowerCase() : (p) => p;
}

/**
 * How `path` and its `twins` (one name to the local tree) differ, and what the tree
 * folds, for a plan's `why`. A case-only difference keeps the words rules 2 first
 * journaled (a replayed plan must match its digest byte for byte).
 */
function twinReason(path: string, twins: readonly string[]): { differs: string; folds: string } {
  const lower = path.toLowerCase();
  if (twins.every((t) => t.toLowerCase() === lower))
    return { differs: 'by case', folds: 'ignores case' };
  const nfc = path.normalize('NFC');
  const differs = twins.every((t) => t.normalize('NFC') === nfc)
    ? 'in how its accented letters are encoded (Unicode NFC or NFD)'
    : 'by case and by how its accented letters are encoded';
  return { differs, folds: 'treats them as one name' };
}

/**
 * Paths by their folded form, keeping each spelling seen: the first as a string (a
 * 100k-file tree allocates nothing more), any other in a list.
 */
class Spellings {
  readonly #first = new Map<string, string>();
  readonly #more = new Map<string, string[]>();
  constructor(readonly fold: (path: string) => string) {}

  add(path: string): void {
    const key = this.fold(path);
    const first = this.#first.get(key);
    if (first === undefined) this.#first.set(key, path);
    else if (first !== path) {
      const more = this.#more.get(key);
      if (!more) this.#more.set(key, [path]);
      else if (!more.includes(path)) more.push(path);
    }
  }

  has(path: string): boolean {
    return this.#first.has(this.fold(path));
  }

  first(path: string): string | undefined {
    return this.#first.get(this.fold(path));
  }

  /** The spellings held for `path`'s folded form other than `path` itself. */
  others(path: string): string[] {
    const key = this.fold(path);
    const all = [this.#first.get(key), ...(this.#more.get(key) ?? [])];
    return all.filter((q): q is string => q !== undefined && q !== path);
  }
}

/** The first index of `list` (sorted by {@link comparePaths}) whose path is not before `path`. */
function lowerBound(list: readonly { path: string }[], path: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePaths(list[mid]!.path, path) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `a/b/c` → `a`, `a/b`. */
function foldersOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/** Which version of a file changed on both sides takes the name, under a policy. */
function resolve(
  policy: ConflictPolicy | undefined,
  L: LocalEntry,
  R: RemoteEntry,
): ConflictResolution {
  switch (policy ?? 'keep-both') {
    case 'prefer-local':
      return 'keep-local';
    case 'prefer-remote':
      return 'keep-remote';
    case 'newer': {
      const remoteTime = R.lastModified ? Date.parse(R.lastModified) : Number.NaN;
      // Without both times there is no "newer": keep both rather than guess.
      if (Number.isNaN(remoteTime) || !Number.isFinite(L.mtimeMs)) return 'keep-both';
      return L.mtimeMs > remoteTime ? 'keep-local' : 'keep-remote';
    }
    default:
      return 'keep-both';
  }
}

/** The decision-table row for one path, or `null` when nothing is to be done. */
export function decide(
  B: BaseEntry | undefined,
  L: LocalEntry | Omit<LocalEntry, 'mtimeMs'> | undefined,
  R: RemoteEntry | undefined,
): DecisionRowId | null {
  if (!B) {
    if (L && R) return sameContent(L, R) ? 'both-new-same' : 'both-new-different';
    if (L) return 'local-new';
    if (R) return 'remote-new';
    return null;
  }
  const local = !L ? 'deleted' : L.hash === B.hash ? 'unchanged' : 'changed';
  const remote = !R
    ? 'deleted'
    : R.etag === B.etag
      ? 'unchanged'
      : R.sha256 && R.sha256 === B.hash
        ? 'touched'
        : 'changed';
  switch (`${local}/${remote}`) {
    case 'unchanged/unchanged':
      return null;
    case 'unchanged/touched':
      return 'remote-touched';
    case 'changed/unchanged':
    case 'changed/touched':
      return 'local-changed';
    case 'unchanged/changed':
      return 'remote-changed';
    case 'deleted/unchanged':
    case 'deleted/touched':
      return 'local-deleted';
    case 'unchanged/deleted':
      return 'remote-deleted';
    case 'changed/changed':
      return L && R && sameContent(L, R) ? 'both-changed-same' : 'both-changed';
    case 'deleted/changed':
      return 'local-deleted-remote-changed';
    case 'changed/deleted':
      return 'local-changed-remote-deleted';
    default:
      return 'both-deleted';
  }
}

function existingConflictCopy(
  path: string,
  clientId: string,
  hash: string,
  localHash: ReadonlyMap<string, string>,
): string | undefined {
  const probe = conflictCopyPath(path, clientId, 0, () => false);
  const marker = `.conflict-${clientId}-`;
  const cut = probe.indexOf(marker) + marker.length;
  const prefix = probe.slice(0, cut);
  const ext = probe.slice(cut + '19700101T000000'.length);
  for (const [candidate, h] of localHash) {
    if (h === hash && candidate.startsWith(prefix) && candidate.endsWith(ext) && candidate !== path)
      return candidate;
  }
  return undefined;
}

/** Content identity is the SHA-256; a remote object without a known one is never "the same". */
function sameContent(L: { hash: string; size: number }, R: RemoteEntry): boolean {
  return R.sha256 != null && R.sha256 === L.hash && R.size === L.size;
}

function side(e: BaseEntry | LocalEntry | RemoteEntry): SideState {
  const out: SideState = { size: e.size };
  if ('hash' in e) out.hash = e.hash;
  if ('sha256' in e && e.sha256 != null) out.hash = e.sha256;
  if ('etag' in e) out.etag = e.etag;
  if ('versionId' in e && e.versionId != null) out.versionId = e.versionId;
  if ('mtimeMs' in e) out.mtimeMs = e.mtimeMs;
  if ('ino' in e && e.ino != null) out.ino = e.ino;
  return out;
}

function minPath(...paths: Array<string | undefined>): string {
  let min: string | undefined;
  for (const p of paths)
    if (p !== undefined && (min === undefined || comparePaths(p, min) < 0)) min = p;
  return min as string;
}

/** Paths whose spellings differ only by case (all of them, so none is picked by luck). */
function caseCollisions(paths: Iterable<string>): Set<string> {
  const byFold = new Map<string, string[]>();
  for (const p of paths) {
    const key = p.toLowerCase();
    const group = byFold.get(key);
    if (group) group.push(p);
    else byFold.set(key, [p]);
  }
  const out = new Set<string>();
  for (const group of byFold.values()) if (group.length > 1) for (const p of group) out.add(p);
  return out;
}
