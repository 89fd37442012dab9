import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BaseEntry,
  canonicalJson,
  clientIdProblem,
  comparePaths,
  conflictCopyPath,
  DECISION_TABLE,
  type DecisionRowId,
  decide,
  type LocalEntry,
  type ReconcileInput,
  type RemoteEntry,
  reconcile,
  unsafeKeyReason,
} from '../src/index.js';

const H = (n: number) => String(n).repeat(64).slice(0, 64);
const base = (path: string, n: number, etag = `"e${n}"`): BaseEntry => ({
  path,
  hash: H(n),
  size: n,
  etag,
});
const local = (path: string, n: number): LocalEntry => ({
  path,
  hash: H(n),
  size: n,
  mtimeMs: 1000 + n,
});
const remote = (path: string, n: number, etag = `"e${n}"`, sha = true): RemoteEntry => ({
  path,
  size: n,
  etag,
  ...(sha ? { sha256: H(n) } : {}),
});

const input = (partial: Partial<ReconcileInput>): ReconcileInput => ({
  base: [],
  local: [],
  remote: [],
  localUnknown: [],
  caseInsensitive: false,
  clientId: 'laptop',
  planTimeMs: Date.UTC(2026, 10, 21, 9, 8, 7),
  ...partial,
});

/** One path through the reconciler: which row, which action. */
function decideOne(b?: BaseEntry, l?: LocalEntry, r?: RemoteEntry) {
  const plan = reconcile(input({ base: b ? [b] : [], local: l ? [l] : [], remote: r ? [r] : [] }));
  return plan.ops.map((op) => [op.row, op.action]);
}

describe('the decision table', () => {
  const p = 'notes/a.md';
  const cases: Array<
    [
      string,
      BaseEntry | undefined,
      LocalEntry | undefined,
      RemoteEntry | undefined,
      DecisionRowId | null,
    ]
  > = [
    ['unchanged | unchanged → nothing', base(p, 1), local(p, 1), remote(p, 1), null],
    ['changed | unchanged → upload', base(p, 1), local(p, 2), remote(p, 1), 'local-changed'],
    ['new | absent → upload', undefined, local(p, 2), undefined, 'local-new'],
    ['unchanged | changed → download', base(p, 1), local(p, 1), remote(p, 2), 'remote-changed'],
    ['absent | new → download', undefined, undefined, remote(p, 2), 'remote-new'],
    ['deleted | unchanged → delete remote', base(p, 1), undefined, remote(p, 1), 'local-deleted'],
    ['unchanged | deleted → delete local', base(p, 1), local(p, 1), undefined, 'remote-deleted'],
    [
      'changed | changed to the same → adopt',
      base(p, 1),
      local(p, 2),
      remote(p, 2),
      'both-changed-same',
    ],
    [
      'changed | changed differently → conflict',
      base(p, 1),
      local(p, 2),
      remote(p, 3),
      'both-changed',
    ],
    [
      'deleted | changed → conflict, restore remote',
      base(p, 1),
      undefined,
      remote(p, 2),
      'local-deleted-remote-changed',
    ],
    [
      'changed | deleted → conflict, re-upload',
      base(p, 1),
      local(p, 2),
      undefined,
      'local-changed-remote-deleted',
    ],
    ['deleted | deleted → forget', base(p, 1), undefined, undefined, 'both-deleted'],
    ['new | new, same → adopt', undefined, local(p, 4), remote(p, 4), 'both-new-same'],
    ['new | new, different → conflict', undefined, local(p, 4), remote(p, 5), 'both-new-different'],
    [
      'unchanged | rewritten with same content → adopt',
      base(p, 1),
      local(p, 1),
      remote(p, 1, '"new-etag"'),
      'remote-touched',
    ],
    [
      'changed | rewritten with same content → upload',
      base(p, 1),
      local(p, 2),
      remote(p, 1, '"new-etag"'),
      'local-changed',
    ],
  ];
  it.each(cases)('%s', (_name, b, l, r, row) => {
    expect(decideOne(b, l, r)).toEqual(row ? [[row, DECISION_TABLE[row].action]] : []);
  });

  it('never calls two remote objects the same without a known SHA-256', () => {
    expect(decideOne(undefined, local(p, 4), remote(p, 4, '"x"', false))).toEqual([
      ['both-new-different', 'conflict'],
    ]);
    expect(decideOne(base(p, 1), local(p, 2), remote(p, 2, '"x"', false))).toEqual([
      ['both-changed', 'conflict'],
    ]);
  });

  it('carries the sides it saw and a sentence of why', () => {
    const [op] = reconcile(
      input({ base: [base(p, 1)], local: [local(p, 2)], remote: [remote(p, 1)] }),
    ).ops;
    expect(op).toMatchObject({
      index: 0,
      path: p,
      action: 'upload',
      row: 'local-changed',
      why: DECISION_TABLE['local-changed'].why,
      base: { hash: H(1), etag: '"e1"', size: 1 },
      local: { hash: H(2), size: 2, mtimeMs: 1002 },
      remote: { etag: '"e1"', hash: H(1) },
    });
  });
});

describe('conflicts', () => {
  it('name the local copy name.conflict-<client>-<UTC time>.ext, avoiding taken names', () => {
    const t = Date.UTC(2026, 10, 21, 9, 8, 7);
    expect(conflictCopyPath('notes/a.md', 'laptop', t, () => false)).toBe(
      'notes/a.conflict-laptop-20261121T090807.md',
    );
    expect(conflictCopyPath('Makefile', 'c', t, () => false)).toBe(
      'Makefile.conflict-c-20261121T090807',
    );
    expect(conflictCopyPath('.bashrc', 'c', t, () => false)).toBe(
      '.bashrc.conflict-c-20261121T090807',
    );
    const taken = new Set(['a.conflict-c-20261121T090807.md']);
    expect(conflictCopyPath('a.md', 'c', t, (x) => taken.has(x))).toBe(
      'a.conflict-c-20261121T090807-2.md',
    );
  });

  it('take client ids that are one plain name, and say why others cannot name a copy', () => {
    for (const id of ['laptop', 'web-1', 'c', 'alice.mac', 'ci_runner', 'a'.repeat(64)]) {
      expect(clientIdProblem(id), id).toBeNull();
    }
    expect(clientIdProblem('')).toBe('it is empty');
    expect(clientIdProblem('a'.repeat(65))).toBe('it is longer than 64 characters');
    expect(clientIdProblem('..')).toBe('it does not start with a letter or digit');
    expect(clientIdProblem('-x')).toBe('it does not start with a letter or digit');
    for (const id of ['team/alice', 'a..\\b', 'alice laptop', 'x:y', 'é']) {
      expect(clientIdProblem(id), id).not.toBeNull();
    }
  });

  it('put the copy where no existing path is', () => {
    const existing = 'a.conflict-laptop-20261121T090807.md';
    const plan = reconcile(
      input({
        base: [base('a.md', 1)],
        local: [local(existing, 9), local('a.md', 2)],
        remote: [remote('a.md', 3)],
      }),
    );
    const op = plan.ops.find((o) => o.path === 'a.md');
    expect(op?.conflictPath).toBe('a.conflict-laptop-20261121T090807-2.md');
  });

  it('reuse a copy an interrupted run already made of the same content', () => {
    const earlier = 'a.conflict-laptop-20250101T000000.md';
    const plan = reconcile(
      input({
        base: [base('a.md', 1)],
        local: [local(earlier, 2), local('a.md', 2)],
        remote: [remote('a.md', 3)],
      }),
    );
    expect(plan.ops.find((o) => o.path === 'a.md')?.conflictPath).toBe(earlier);
  });
});

describe('what the reconciler refuses to act on', () => {
  it('skips remote keys that cannot be safe local paths, and says why', () => {
    for (const key of [
      '../etc/passwd',
      '/abs',
      'a/../b',
      'a//b',
      'dir/',
      'a\u0001b',
      'x/./y',
      `${'n'.repeat(256)}.md`,
    ]) {
      expect(unsafeKeyReason(key)).not.toBeNull();
      const [op] = reconcile(input({ remote: [remote(key, 1)] })).ops;
      expect(op).toMatchObject({ action: 'skip', row: 'unsafe-key' });
      expect(op?.why).toContain(unsafeKeyReason(key)!);
    }
    expect(unsafeKeyReason('notes/ünïcödé 😀.md')).toBeNull();
  });

  it('skips keys that differ only by case when the local tree ignores case', () => {
    const plan = reconcile(
      input({
        caseInsensitive: true,
        remote: [remote('Notes.md', 1), remote('notes.md', 2), remote('other.md', 3)],
      }),
    );
    expect(plan.ops.map((o) => [o.path, o.row])).toEqual([
      ['Notes.md', 'unsafe-key'],
      ['notes.md', 'unsafe-key'],
      ['other.md', 'remote-new'],
    ]);
    const sensitive = reconcile(input({ remote: [remote('Notes.md', 1), remote('notes.md', 2)] }));
    expect(sensitive.ops.map((o) => o.row)).toEqual(['remote-new', 'remote-new']);
  });

  it('skips keys with a backslash or a temp name (rules 2), and not in a replay of rules 1', () => {
    for (const key of ['win\\doc.txt', '.syncjournal-tmp-abc', 'd/.syncjournal-tmp-x/y.md']) {
      const [op] = reconcile(input({ remote: [remote(key, 1)] })).ops;
      expect(op, key).toMatchObject({ action: 'skip', row: 'unsafe-key' });
      expect(unsafeKeyReason(key, 1)).toBeNull();
      const [old] = reconcile(input({ rules: 1, remote: [remote(key, 1)] })).ops;
      expect(old?.row).toBe('remote-new');
    }
  });

  it('never uploads a local path under .syncjournal/, where the bucket keeps its own keys', () => {
    const plan = reconcile(
      input({ local: [local('.syncjournal/mine.md', 1), local('.syncjournalx/b.md', 2)] }),
    );
    expect(plan.ops.map((o) => [o.path, o.row, o.action])).toEqual([
      ['.syncjournal/mine.md', 'unsafe-key', 'skip'],
      ['.syncjournalx/b.md', 'local-new', 'upload'],
    ]);
    expect(plan.ops[0]!.why).toMatch(/reserved/);
  });

  it('syncs a case-only rename on a tree that ignores case (rules 2; rules 1 skipped both)', () => {
    const renamed = {
      caseInsensitive: true,
      base: [base('notes.md', 1)],
      local: [local('Notes.md', 2)],
      remote: [remote('notes.md', 1)],
    };
    expect(reconcile(input(renamed)).ops.map((o) => [o.path, o.action])).toEqual([
      ['Notes.md', 'upload'],
      ['notes.md', 'delete-remote'],
    ]);
    expect(reconcile(input({ ...renamed, rules: 1 })).ops.map((o) => o.row)).toEqual([
      'unsafe-key',
      'unsafe-key',
    ]);
    // A teammate changed the old spelling meanwhile: restoring it would land on the
    // renamed file, so that one write is skipped and reported; the rename still goes up.
    const edited = reconcile(input({ ...renamed, remote: [remote('notes.md', 3)] }));
    expect(edited.ops.map((o) => [o.path, o.row, o.action])).toEqual([
      ['Notes.md', 'local-new', 'upload'],
      ['notes.md', 'unsafe-key', 'skip'],
    ]);
    expect(edited.ops[1]!.why).toMatch(/differs from it only by case \(Notes\.md\)/);
  });

  it('skips downloads that differ only in accent encoding from a local name, on a tree that folds it (macOS)', () => {
    const nfc = 'caf\u00e9.md';
    const nfd = nfc.normalize('NFD');
    const mac = (partial: Partial<ReconcileInput>) =>
      reconcile(input({ caseInsensitive: true, normalizationInsensitive: true, ...partial })).ops;
    // A Linux teammate's NFC key beside the Mac's NFD file: the download would land on
    // the Mac's file, so it is skipped and said why; the Mac's file still goes up.
    const beside = mac({ local: [local(nfd, 1)], remote: [remote(nfc, 2)] });
    expect(beside.map((o) => [o.path, o.row, o.action])).toEqual([
      [nfd, 'local-new', 'upload'],
      [nfc, 'unsafe-key', 'skip'],
    ]);
    expect(beside[1]!.why).toBe(
      `this path cannot be written in the local folder: another path differs from it only in how its accented letters are encoded (Unicode NFC or NFD) (${nfd}), and the local folder treats them as one name`,
    );
    // Two such keys in the bucket, neither local: neither lands.
    expect(mac({ remote: [remote(nfd, 1), remote(nfc, 2)] }).map((o) => o.row)).toEqual([
      'unsafe-key',
      'unsafe-key',
    ]);
    // Into a folder the Mac holds under the other encoding.
    const folder = 'Cr\u00e8me';
    const [into] = mac({
      local: [local(`${folder.normalize('NFD')}/a.md`, 1)],
      remote: [remote(`${folder}/b.md`, 2)],
    }).filter((o) => o.path.endsWith('b.md'));
    expect(into).toMatchObject({ row: 'unsafe-key', action: 'skip' });
    expect(into!.why).toMatch(
      /its folder Crème differs only in how its accented letters are encoded/,
    );
    // Case and encoding at once; and a case-only twin keeps the words rules 2 journaled.
    const both = mac({ local: [local('CAFE\u0301.md', 1)], remote: [remote(nfc, 2)] });
    expect(both.find((o) => o.path === nfc)!.why).toContain(
      'only by case and by how its accented letters are encoded (CAFE\u0301.md), and the local folder treats them as one name',
    );
    const cased = mac({ local: [local('Notes.md', 1)], remote: [remote('notes.md', 2)] });
    expect(cased.find((o) => o.path === 'notes.md')!.why).toBe(
      'this path cannot be written in the local folder: another path differs from it only by case (Notes.md), and the local folder ignores case',
    );
    // A tree that keeps the encodings apart (Linux, OPFS) holds both.
    const linux = reconcile(input({ local: [local(nfd, 1)], remote: [remote(nfc, 2)] })).ops;
    expect(linux.map((o) => [o.path, o.action])).toEqual([
      [nfd, 'upload'],
      [nfc, 'download'],
    ]);
  });

  it('skips downloads the local tree could not hold beside its files, and only those', () => {
    const ci = (partial: Partial<ReconcileInput>) =>
      reconcile(input({ caseInsensitive: true, ...partial })).ops.map((o) => [o.path, o.row]);
    // Into a folder that exists locally under another case.
    expect(ci({ local: [local('docs/b.md', 1)], remote: [remote('Docs/a.md', 2)] })).toEqual([
      ['Docs/a.md', 'unsafe-key'],
      ['docs/b.md', 'local-new'],
    ]);
    // Two new keys under two spellings of one folder: neither lands.
    expect(ci({ remote: [remote('Docs/a.md', 1), remote('docs/b.md', 2)] })).toEqual([
      ['Docs/a.md', 'unsafe-key'],
      ['docs/b.md', 'unsafe-key'],
    ]);
    // A file and a key inside it, on any tree; a file where a local folder is.
    const clash = (partial: Partial<ReconcileInput>) =>
      reconcile(input(partial)).ops.map((o) => [o.path, o.row]);
    expect(clash({ remote: [remote('a', 1), remote('a/b', 2)] })).toEqual([
      ['a', 'unsafe-key'],
      ['a/b', 'unsafe-key'],
    ]);
    expect(clash({ local: [local('a/x', 1)], remote: [remote('a', 2)] })).toEqual([
      ['a', 'unsafe-key'],
      ['a/x', 'local-new'],
    ]);
    // A file replaced by a folder locally: the old key is deleted, the new one uploaded.
    expect(
      clash({ base: [base('a', 1)], local: [local('a/b', 2)], remote: [remote('a', 1)] }),
    ).toEqual([
      ['a', 'local-deleted'],
      ['a/b', 'local-new'],
    ]);
    // A local file deleted by the plan makes room for the folder that replaces it.
    expect(
      clash({ base: [base('a', 1)], local: [local('a', 1)], remote: [remote('a/b', 2)] }),
    ).toEqual([
      ['a', 'remote-deleted'],
      ['a/b', 'remote-new'],
    ]);
  });

  it('derives nothing from what it could not see', () => {
    const plan = reconcile(
      input({
        base: [base('locked/a.md', 1), base('z.md', 1)],
        local: [],
        remote: [remote('locked/a.md', 2)],
        localUnknown: ['locked'],
        remoteListedThrough: 'm.md',
      }),
    );
    expect(plan.ops.map((o) => [o.path, o.action, o.row])).toEqual([
      ['locked/a.md', 'skip', 'local-unknown'],
      ['z.md', 'skip', 'remote-unknown'],
    ]);
  });

  it('never writes, deletes or uploads at or under a local entry left out (a link, a special file)', () => {
    const plan = reconcile(
      input({
        // a.md became a link (its old manifest row gone), b.md became a link while the
        // bucket's copy changed, docs/ became a link to a folder, new.md is a link where
        // a teammate has a file, ok.md is a plain file deleted locally.
        base: [base('a.md', 1), base('b.md', 1), base('docs/x.md', 1), base('ok.md', 1)],
        local: [],
        remote: [
          remote('a.md', 1),
          remote('b.md', 2),
          remote('docs/x.md', 1),
          remote('docs/y.md', 3),
          remote('new.md', 4),
          remote('ok.md', 1),
        ],
        localUnknown: [],
        localLeftOut: ['a.md', 'b.md', 'docs', 'new.md'],
      }),
    );
    expect(plan.ops.map((o) => [o.path, o.action, o.row])).toEqual([
      ['b.md', 'skip', 'local-left-out'],
      ['docs/y.md', 'skip', 'local-left-out'],
      ['new.md', 'skip', 'local-left-out'],
      ['ok.md', 'delete-remote', 'local-deleted'],
    ]);
  });

  it('leaves excluded paths alone on both sides and lists those with a baseline', () => {
    const plan = reconcile(
      input({
        base: [base('a.md', 1), base('build/x', 1)],
        local: [local('a.md', 1)],
        remote: [remote('a.md', 1), remote('build/y', 2)],
        excluded: (path) => path.startsWith('build/'),
      }),
    );
    expect(plan.ops).toEqual([]);
    expect(plan.excludedWithBase).toEqual(['build/x']);
  });
});

it('refuses unsorted input rather than mis-pair the sides', () => {
  expect(() => reconcile(input({ base: [base('b', 1), base('a', 1)] }))).toThrow(/sorted/);
});

describe('determinism', () => {
  const entry = fc.record({
    path: fc.constantFrom('a', 'b/c', 'b-c', 'é', 'z/😀'),
    n: fc.integer({ min: 1, max: 4 }),
  });
  const side = (make: (p: string, n: number) => unknown) =>
    fc
      .uniqueArray(entry, { selector: (e) => e.path, maxLength: 5 })
      .map((es) =>
        es
          .map((e) => make(e.path, e.n))
          .sort((x, y) => comparePaths((x as { path: string }).path, (y as { path: string }).path)),
      );

  it('gives a byte-identical plan for the same input, every time', () => {
    fc.assert(
      fc.property(side(base), side(local), side(remote), (b, l, r) => {
        const i = input({
          base: b as BaseEntry[],
          local: l as LocalEntry[],
          remote: r as RemoteEntry[],
        });
        const first = canonicalJson(reconcile(i));
        const again = canonicalJson(reconcile(structuredClone(i)));
        expect(again).toBe(first);
      }),
      { numRuns: 500 },
    );
  });

  it('never plans a delete without a baseline (first sync, lost journal)', () => {
    fc.assert(
      fc.property(side(local), side(remote), (l, r) => {
        const plan = reconcile(input({ local: l as LocalEntry[], remote: r as RemoteEntry[] }));
        for (const op of plan.ops) expect(op.action).not.toMatch(/^delete/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('local writes a tree can hold (rules 2), for any sides', () => {
  // Paths of up to three segments over names that clash by case, by accent encoding
  // (é as NFC, as NFD, É) and by nesting.
  const pathArb = fc
    .array(fc.constantFrom('a', 'A', 'b', 'B.md', '\u00e9', 'e\u0301', '\u00c9.md'), {
      minLength: 1,
      maxLength: 3,
    })
    .map((segments) => segments.join('/'));
  /** How the tree folds names: `ci` case (macOS, Windows), `ni` accent encoding (macOS). */
  interface Folding {
    ci: boolean;
    ni: boolean;
  }
  const fold =
    ({ ci, ni }: Folding) =>
    (p: string) => {
      const k = ci ? p.toLowerCase() : p;
      return ni ? k.normalize('NFC') : k;
    };
  const foldersOf = (p: string) =>
    p
      .split('/')
      .slice(0, -1)
      .map((_, i, all) => all.slice(0, i + 1).join('/'));

  /** Why a set of files cannot all be in one tree, or null: twins by spelling, a file where a folder is, one folder spelt two ways. */
  function inconsistency(paths: Iterable<string>, folding: Folding): string | null {
    const f = fold(folding);
    const files = new Map<string, string>();
    const folders = new Map<string, string>();
    for (const p of paths) {
      const twin = files.get(f(p));
      if (twin !== undefined && twin !== p) return `${p} and ${twin} are one file`;
      files.set(f(p), p);
      for (const d of foldersOf(p)) {
        const other = folders.get(f(d));
        if (other !== undefined && other !== d) return `folder ${d} and ${other} are one folder`;
        folders.set(f(d), d);
      }
    }
    for (const [key, p] of files) if (folders.has(key)) return `${p} is a file and a folder`;
    return null;
  }

  /** A local tree: paths added in order while the tree can hold them. */
  const treeArb = (folding: Folding) =>
    fc.array(fc.tuple(pathArb, fc.integer({ min: 1, max: 3 })), { maxLength: 8 }).map((pairs) => {
      const kept: Array<[string, number]> = [];
      for (const [p, n] of pairs) {
        if (inconsistency([...kept.map(([k]) => k), p], folding) === null) kept.push([p, n]);
      }
      return kept;
    });
  const sorted = <T extends { path: string }>(xs: T[]) =>
    [...new Map(xs.map((x) => [x.path, x])).values()].sort((x, y) => comparePaths(x.path, y.path));
  const casesArb = fc.record({ ci: fc.boolean(), ni: fc.boolean() }).chain((folding) =>
    fc.record({
      folding: fc.constant(folding),
      local: treeArb(folding),
      remote: fc.array(fc.tuple(pathArb, fc.integer({ min: 1, max: 3 })), { maxLength: 8 }),
      base: fc.array(fc.tuple(pathArb, fc.integer({ min: 1, max: 3 })), { maxLength: 6 }),
      policy: fc.constantFrom('keep-both', 'prefer-local', 'prefer-remote') as fc.Arbitrary<
        ReconcileInput['policy']
      >,
    }),
  );

  it('leaves the local tree holding only what a tree can hold, and changes nothing but those writes', () => {
    fc.assert(
      fc.property(casesArb, ({ folding, local: l, remote: r, base: b, policy }) => {
        const i = input({
          caseInsensitive: folding.ci,
          normalizationInsensitive: folding.ni,
          base: sorted(b.map(([p, n]) => base(p, n))),
          local: sorted(l.map(([p, n]) => local(p, n))),
          remote: sorted(r.map(([p, n]) => remote(p, n))),
          ...(policy ? { policy } : {}),
        });
        const plan = reconcile(i);
        const after = new Set(i.local.map((e) => e.path));
        for (const op of plan.ops) {
          if (op.action === 'delete-local') after.delete(op.path);
        }
        for (const op of plan.ops) {
          const writes =
            ['download', 'conflict'].includes(op.action) &&
            op.row !== 'local-changed-remote-deleted' &&
            op.resolution !== 'keep-local';
          if (writes) after.add(op.path);
          if (op.conflictPath) after.add(op.conflictPath);
        }
        expect(inconsistency(after, folding)).toBeNull();
        // Every op is its decision-table row, or skipped as unsafe.
        const at = (list: readonly { path: string }[], p: string) => list.find((e) => e.path === p);
        for (const op of plan.ops) {
          if (op.row === 'unsafe-key') continue;
          const row = decide(
            at(i.base, op.path) as BaseEntry | undefined,
            at(i.local, op.path) as LocalEntry | undefined,
            at(i.remote, op.path) as RemoteEntry | undefined,
          );
          expect(op.row).toBe(row);
        }
        // Only local writes are ever skipped for a clash: uploads and remote deletes go on.
        for (const op of plan.ops) {
          if (op.row !== 'unsafe-key' || !op.why.includes('cannot be written in the local folder'))
            continue;
          const row = decide(
            at(i.base, op.path) as BaseEntry | undefined,
            at(i.local, op.path) as LocalEntry | undefined,
            at(i.remote, op.path) as RemoteEntry | undefined,
          );
          expect([
            'remote-new',
            'remote-changed',
            'local-deleted-remote-changed',
            'both-changed',
            'both-new-different',
          ]).toContain(row);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
