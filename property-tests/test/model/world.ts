import {
  type ConflictPolicy,
  comparePaths,
  createSyncEngine,
  hashOf,
  type Journal,
  type JournalEvent,
  type KeptCopy,
  listEveryObject,
  type PairFilter,
  type PlanOp,
  REMOTE_TRASH_PREFIX,
  RESERVED_PREFIX,
  type RunReport,
  replayPlan,
  restoreCandidates,
  SNAPSHOT_MARKER_PREFIX,
  type TombstonePayload,
  unfinishedOps,
} from '@syncjournal/core';
import { readProjections } from '@syncjournal/core/testing';
import type { Adapters, UserTree } from './adapter-types.js';
import {
  crashable,
  FaultyStore,
  racingTree,
  SimulatedCrash,
  SimulatedProcess,
  type StoreFault,
} from './faults.js';
import { FILTERS, FOLDERS, PATHS, type Scenario, type Step } from './steps.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * What the model's syncs ran into, over a whole test file: printed at the end, so a
 * reader can see the faults, crashes, conflicts and guards were reached, not just
 * generated.
 */
export const coverage = {
  syncs: 0,
  crashed: 0,
  /** Runs whose snapshot was listed and compared with the bucket. */
  snapshots: 0,
  conflicts: 0,
  /** Versions a killed run kept without journaling where, which `restoreCandidates` found. */
  unrecordedFound: 0,
  /** Symbolic links users made, and ops skipped at one (the bucket's copy changed, or is new). */
  links: 0,
  leftOut: 0,
  blocked: 0,
  failed: 0,
  uploads: 0,
  downloads: 0,
  deletes: 0,
  faults: {} as Record<string, number>,
  count(report: RunReport, faults: readonly StoreFault[]): void {
    this.syncs++;
    this.conflicts += report.conflicts.length;
    if (report.status === 'blocked') this.blocked++;
    if (report.status === 'failed') this.failed++;
    this.uploads += report.uploaded;
    this.downloads += report.downloaded;
    this.deletes += report.deletedLocal + report.deletedRemote;
    for (const f of faults) this.faults[f.kind] = (this.faults[f.kind] ?? 0) + 1;
  },
  summary(): string {
    const { count: _c, summary: _s, ...numbers } = this;
    return JSON.stringify(numbers);
  },
};

/** Why a case failed: which invariant, and what it saw. */
export class InvariantError extends Error {
  constructor(
    readonly invariant:
      | 'no-lost-write'
      | 'journal-points'
      | 'convergence'
      | 'idempotence'
      | 'links'
      | 'determinism'
      | 'rebuild'
      | 'guards'
      | 'engine-threw',
    message: string,
  ) {
    super(`[${invariant}] ${message}`);
    this.name = 'InvariantError';
  }
}

interface ClientState {
  name: string;
  user: UserTree;
  journal: Journal;
  pairId: string;
  policy: ConflictPolicy;
  filter: number;
  /** Folders made unreadable: the user cannot reach into them either. */
  unreadable: Set<string>;
  /** Paths the user made symbolic links: nothing at or under them is the engine's. */
  links: Set<string>;
}

/** A content the oracle tracks: who wrote it, and whether a user destroyed its last copy. */
interface Written {
  by: string;
  /** A user's own edit or delete removed the last copy: not the engine's to keep. */
  destroyedByUser: boolean;
  /** A user or teammate replaced or deleted it somewhere (the engine may have never seen it). */
  supersededByUser: boolean;
}

/**
 * One model case: clients on one shared store, each with its own tree and journal,
 * and the oracle that knows every content a user or teammate ever wrote.
 */
export class World {
  readonly clients: ClientState[] = [];
  /** Every journal a client ever had, lost ones included (they pointed to things too). */
  readonly journals: Array<{ journal: Journal; pairId: string; client: string }> = [];
  readonly written = new Map<string, Written>();
  #counter = 0;
  /** Run reports of the quiet phase, for messages. */
  readonly log: string[] = [];
  /** The bucket's user files every tree converged on. */
  converged: Record<string, string> = {};

  private constructor(readonly adapters: Adapters) {}

  static async create(
    adapters: Adapters,
    scenario: Pick<Scenario, 'clients' | 'policies'>,
  ): Promise<World> {
    const world = new World(adapters);
    for (let i = 0; i < scenario.clients; i++) {
      const name = `c${i}`;
      const { journal, pairId } = await adapters.newJournal(name);
      world.journals.push({ journal, pairId, client: name });
      world.clients.push({
        name,
        user: await adapters.newTree(name),
        journal,
        pairId,
        policy: scenario.policies[i] ?? 'keep-both',
        filter: 0,
        unreadable: new Set(),
        links: new Set(),
      });
    }
    return world;
  }

  /** A content never written before; all the same length, whoever writes it, unless `grow`. */
  #fresh(by: string, grow: boolean): string {
    const text = `${by.padEnd(8, '.')}:${String(++this.#counter).padStart(6, '0')}${grow ? '+grown' : ''}\n`;
    this.written.set(text, { by, destroyedByUser: false, supersededByUser: false });
    return text;
  }

  async apply(step: Step): Promise<void> {
    switch (step.t) {
      case 'write': {
        const c = this.#client(step.client);
        const path = PATHS[step.path]!;
        if (blocked(c, path)) return;
        const files = await c.user.files();
        const old = files.get(path);
        const keepMtime = step.keepMtime && old !== undefined;
        // An edit that keeps size and mtime has to keep the size too.
        const text = this.#fresh(
          c.name,
          keepMtime ? decoder.decode(old).endsWith('+grown\n') : step.grow,
        );
        await c.user.write(path, encoder.encode(text), { keepMtime });
        if (old) await this.#destroyed(decoder.decode(old));
        return;
      }
      case 'write-same': {
        const path = PATHS[step.path]!;
        const targets = [...new Set(step.clients.map((i) => this.#client(i)))].filter(
          (c) => !blocked(c, path),
        );
        if (targets.length === 0) return;
        const text = this.#fresh('both', false);
        for (const c of targets) {
          const old = (await c.user.files()).get(path);
          await c.user.write(path, encoder.encode(text));
          if (old) await this.#destroyed(decoder.decode(old));
        }
        return;
      }
      case 'delete': {
        const c = this.#client(step.client);
        const files = [...(await c.user.files())].filter(([p]) => !blocked(c, p));
        if (files.length === 0) return;
        const [path, data] = files[step.pick % files.length]!;
        await c.user.remove(path);
        await this.#destroyed(decoder.decode(data));
        return;
      }
      case 'rename': {
        const c = this.#client(step.client);
        const files = await c.user.files();
        const list = [...files].filter(([p]) => !blocked(c, p));
        const to = PATHS[step.to]!;
        if (list.length === 0 || files.has(to) || blocked(c, to)) return;
        const [from, data] = list[step.pick % list.length]!;
        if (PATHS.every((p) => p !== from)) return; // conflict copies keep their names
        await c.user.write(to, data);
        await c.user.remove(from);
        return;
      }
      case 'make-folder': {
        const c = this.#client(step.client);
        if (!blocked(c, `${step.folder}/x`)) await c.user.tree.mkdir(step.folder);
        return;
      }
      case 'delete-folder': {
        const c = this.#client(step.client);
        for (const [path, data] of await c.user.files()) {
          if (!path.startsWith(step.folder) || blocked(c, path)) continue;
          await c.user.remove(path);
          await this.#destroyed(decoder.decode(data));
        }
        return;
      }
      case 'teammate-write': {
        const key = PATHS[step.path]!;
        const old = (await this.adapters.store.objects()).get(key);
        await this.adapters.store.put(key, encoder.encode(this.#fresh('teammate', false)));
        if (old) await this.#destroyed(decoder.decode(old));
        return;
      }
      case 'teammate-delete': {
        const objects = [...(await this.adapters.store.objects())].filter(
          ([k]) => !k.startsWith(RESERVED_PREFIX),
        );
        if (objects.length === 0) return;
        const [key, data] = objects[step.pick % objects.length]!;
        await this.adapters.store.remove(key);
        await this.#destroyed(decoder.decode(data));
        return;
      }
      case 'sync':
        await this.sync(step.client, step.faults, step.crash);
        return;
      case 'tick':
        await this.adapters.advance(step.ms);
        return;
      case 'lose-journal': {
        const c = this.#client(step.client);
        const { journal, pairId } = await this.adapters.newJournal(c.name);
        this.journals.push({ journal, pairId, client: c.name });
        c.journal = journal;
        c.pairId = pairId;
        return;
      }
      case 'filter':
        this.#client(step.client).filter = step.filter;
        return;
      case 'unreadable': {
        const c = this.#client(step.client);
        await c.user.setUnreadable(step.folder, step.on);
        if (step.on) c.unreadable.add(step.folder);
        else c.unreadable.delete(step.folder);
        return;
      }
      case 'link': {
        const c = this.#client(step.client);
        const path = PATHS[step.path]!;
        if (!c.user.link) return;
        if (!step.on) {
          if (!c.links.has(path) || unreadableAt(c, path)) return;
          await c.user.remove(path);
          c.links.delete(path);
          return;
        }
        if (blocked(c, path)) return;
        const old = (await c.user.files()).get(path);
        if (old) await c.user.remove(path);
        await c.user.link(path);
        c.links.add(path);
        coverage.links++;
        if (old) await this.#destroyed(decoder.decode(old));
        return;
      }
    }
  }

  /**
   * One sync of a client through fault-injecting, crashable ports. Returns the result,
   * or `undefined` when the simulated process crashed.
   */
  /**
   * Snapshots: the one a run names is the bucket exactly as the run left it (taken
   * after its last write), so a later client can read its base there.
   */
  async #checkSnapshot(report: RunReport): Promise<void> {
    const store = this.adapters.store.store;
    // The client's snapshot marker is written just after the snapshot, by design.
    const listed = async (snapshot?: string) =>
      (await listEveryObject(store, snapshot === undefined ? {} : { snapshot }))
        .filter((o) => !o.key.startsWith(SNAPSHOT_MARKER_PREFIX))
        .map((o) => `${o.key} ${o.etag}`);
    const [then, now] = [await listed(report.snapshot), await listed()];
    coverage.snapshots++;
    if (JSON.stringify(then) !== JSON.stringify(now)) {
      throw new InvariantError(
        'journal-points',
        `run ${report.run}'s snapshot ${report.snapshot} does not hold the bucket as the run left it: ${JSON.stringify({ then, now })}`,
      );
    }
  }

  async sync(
    index: number,
    faults: readonly StoreFault[] = [],
    crash: { at: number; after: boolean } | null = null,
    extra: { force?: boolean; allowEmpty?: boolean } = {},
  ): Promise<{ report: RunReport; plan: PlanOp[] } | undefined> {
    const c = this.#client(index);
    const process = new SimulatedProcess(crash ?? undefined);
    const store = new FaultyStore(
      crashable(this.adapters.store.store, process, 'store'),
      faults,
      async (key) => {
        // The teammate's write replaces whatever was there: theirs to replace, as in
        // the teammate-write step (a hidden earlier teammate write is superseded by it).
        const old = (await this.adapters.store.objects()).get(key);
        await this.adapters.store.put(key, encoder.encode(this.#fresh('teammate', false)));
        if (old) await this.#destroyed(decoder.decode(old));
      },
    );
    const raced = new Map<string, string>();
    const tree = racingTree(c.user.tree, faults, async (path) => {
      // The user saves the file (creating it if it was not there) mid-sync.
      if (blocked(c, path)) return;
      const old = (await c.user.files()).get(path);
      const text = this.#fresh(c.name, false);
      raced.set(path, this.#sha(encoder.encode(text)));
      await c.user.write(path, encoder.encode(text));
      if (old) await this.#destroyed(decoder.decode(old));
    });
    const engine = createSyncEngine({
      tree: crashable(tree, process, 'tree'),
      store,
      journal: crashable(c.journal, process, 'journal'),
      hasher: this.adapters.hasher,
      clock: this.adapters.clock,
      pair: { id: c.pairId, local: `model://${c.name}`, remote: 'model://bucket' },
      clientId: c.name,
      policy: c.policy,
      ...filterOf(c.filter),
      ...(extra.force ? { force: true } : {}),
      ...(extra.allowEmpty ? { allowEmpty: true } : {}),
    });
    try {
      const result = await engine.sync();
      coverage.count(result.report, faults);
      await this.#checkLinks(c, result.plan);
      checkServed(result.plan, store.served, c.unreadable);
      await this.#checkPointers(c, result.report.run, raced);
      if (result.report.snapshot !== undefined) await this.#checkSnapshot(result.report);
      return result;
    } catch (error) {
      if (error instanceof InvariantError) throw error;
      if (process.dead && (error instanceof SimulatedCrash || isCrashReport(error))) {
        // Let whatever the dead process had in flight settle (it can reach no port now).
        await new Promise((r) => setTimeout(r, 1));
        coverage.crashed++;
        await this.#checkLinks(c, []);
        return undefined;
      }
      throw new InvariantError('engine-threw', `${c.name}'s sync threw: ${String(error)}`);
    }
  }

  /**
   * Invariant 7: a symbolic link the user made is the user's. No op of the run acts at
   * or under it, and after the run (a killed one too) every link is still there.
   */
  async #checkLinks(c: ClientState, plan: readonly PlanOp[]): Promise<void> {
    const under = (path: string) =>
      [...c.links].some((link) => path === link || path.startsWith(`${link}/`));
    const touched = plan.filter((op) => op.action !== 'skip' && under(op.path));
    if (touched.length > 0) {
      throw new InvariantError(
        'links',
        `${c.name}'s run planned ${JSON.stringify(touched.map((o) => [o.action, o.path, o.row]))} at a symbolic link`,
      );
    }
    coverage.leftOut += plan.filter((op) => op.row === 'local-left-out').length;
    const found: string[] = [];
    for await (const item of c.user.tree.walk()) {
      if (item.kind === 'skipped' && item.reason === 'symlink') found.push(item.path);
    }
    // A folder made unreadable hides the links in it from the walk.
    const expected = [...c.links].filter((link) => !unreadableAt(c, link));
    if (JSON.stringify(found.sort()) !== JSON.stringify(expected.sort())) {
      throw new InvariantError(
        'links',
        `${c.name} made the links ${JSON.stringify(expected)}, but after a run its folder holds ${JSON.stringify(found)}`,
      );
    }
  }

  /**
   * Invariant 1's "the journal points to where it is", checked right after a run:
   * every conflict copy, trash location and bucket version the run's events name
   * holds the content (hash) they say it does.
   */
  async #checkPointers(
    c: ClientState,
    run: number,
    raced: ReadonlyMap<string, string>,
  ): Promise<void> {
    const events = await c.journal.events({ run });
    const files = await c.user.files();
    const trash = new Map((await c.user.trashed()).map((t) => [t.location, t.data]));
    const objects = await this.adapters.store.objects();
    const versions = new Map(
      (await this.adapters.store.versions()).map((v) => [`${v.key}@${v.versionId}`, v.data]),
    );
    const check = (
      what: string,
      data: Uint8Array | undefined,
      hash: string | null | undefined,
      path?: string,
    ) => {
      if (!hash) return;
      // Known limit: an edit landing between the executor's verifying read and the
      // tree's rename, in the same clock tick and with the same size, is invisible to
      // the stat check; the file is kept in the trash, recorded under the hash read.
      const racedHash = path === undefined ? undefined : raced.get(path);
      if (data && racedHash && this.#sha(data) === racedHash) return;
      if (!data || this.#sha(data) !== hash) {
        throw new InvariantError(
          'journal-points',
          `run ${run} of ${c.name} says ${what} holds ${hash.slice(0, 12)}, but ${data ? `it holds ${JSON.stringify(decoder.decode(data))}` : 'nothing is there'}`,
        );
      }
    };
    const kept = (k: KeptCopy | (TombstonePayload & { path?: string }), path: string) => {
      const side = k.side;
      if (k.trash) {
        check(
          `trash ${k.trash}`,
          side === 'local' ? trash.get(k.trash) : objects.get(k.trash),
          k.hash,
          side === 'local' ? path : undefined,
        );
      } else if (
        k.versionId &&
        side === 'remote' &&
        this.adapters.store.store.capabilities.versioning
      ) {
        const current = objects.get(path);
        const version = versions.get(`${path}@${k.versionId}`);
        check(`version ${path}@${k.versionId}`, version ?? current, k.hash);
      }
    };
    for (const e of events) {
      if (e.kind === 'conflict.recorded') {
        for (const k of e.payload.kept) {
          if (k.trash || k.versionId) kept(k, k.path);
          else check(`the file ${k.path}`, files.get(k.path), k.hash);
        }
      } else if (e.kind === 'op.applied') {
        if (e.payload.tombstone?.trash && e.payload.tombstone.side === 'local') {
          kept(e.payload.tombstone, e.path!);
        }
        if (e.payload.replaced) kept(e.payload.replaced, e.path!);
      }
    }
  }

  #sha(data: Uint8Array): string {
    return hashOf(this.adapters.hasher, data);
  }

  #client(index: number): ClientState {
    return this.clients[index % this.clients.length]!;
  }

  /** A user action removed `text` from where it was: if no copy is left anywhere, the user destroyed it. */
  async #destroyed(text: string): Promise<void> {
    const entry = this.written.get(text);
    if (!entry || entry.destroyedByUser) return;
    entry.supersededByUser = true;
    const where = await this.whereabouts();
    if (!where.has(text)) entry.destroyedByUser = true;
  }

  /** Where every content is: current files, trash, store objects and versions. */
  async whereabouts(): Promise<Map<string, string[]>> {
    const where = new Map<string, string[]>();
    const add = (data: Uint8Array, place: string) => {
      const text = decoder.decode(data);
      const list = where.get(text) ?? [];
      list.push(place);
      where.set(text, list);
    };
    for (const c of this.clients) {
      for (const [path, data] of await c.user.files()) add(data, `file ${c.name}:${path}`);
      for (const { location, data } of await c.user.trashed())
        add(data, `trash ${c.name}:${location}`);
    }
    for (const [key, data] of await this.adapters.store.objects()) {
      add(data, key.startsWith(RESERVED_PREFIX) ? `remote-trash ${key}` : `object ${key}`);
    }
    for (const v of await this.adapters.store.versions())
      add(v.data, `version ${v.key}@${v.versionId}`);
    return where;
  }

  /** Invariant 1: every content a user or teammate wrote is still somewhere, unless a user destroyed it. */
  async checkNoLostWrite(after: string): Promise<void> {
    const where = await this.whereabouts();
    for (const [text, entry] of this.written) {
      if (entry.destroyedByUser || where.has(text)) continue;
      throw new InvariantError(
        'no-lost-write',
        `after ${after}: the content ${JSON.stringify(text)} written by ${entry.by} is nowhere: not a file, not in any trash, not in the bucket or its versions`,
      );
    }
  }

  /**
   * Invariant 1, second half: a content kept only in a trash or a bucket version is
   * pointed to by a journal — an event naming that trash location or version id, or,
   * where the run was killed before it could record the outcome, an `op.started` never
   * journaled as done whose trash places hold it: the op's local trash slot
   * (`run-<run>-op-<index>[~n]/<path>`) or its run's remote trash key
   * (`…/<client>/<run>[~n]/<path>`). Where that op is in the client's current journal,
   * `restoreCandidates` must list the place: `restore` finds it.
   */
  async checkJournalPoints(): Promise<void> {
    const where = await this.whereabouts();
    const texts: string[] = [];
    /** Ops started and never journaled as done. */
    const open: Array<{
      client: string;
      run: number;
      index: number;
      path: string;
      journal: Journal;
    }> = [];
    /** Places accepted through such an op, which restore must therefore find. */
    const unrecorded: Array<{ client: string; path: string; trash: string }> = [];
    const accept = (o: (typeof open)[number] | undefined, trash: string): boolean => {
      if (!o) return false;
      const c = this.clients.find((x) => x.name === o.client);
      if (c?.journal === o.journal) unrecorded.push({ client: o.client, path: o.path, trash });
      return true;
    };
    for (const { journal, pairId } of this.journals) {
      const events = await journal.events({ pairId });
      const runs = new Map(
        events.filter((e) => e.kind === 'run.started').map((e) => [e.run, e.payload.clientId]),
      );
      for (const e of events) texts.push(JSON.stringify(e.payload));
      for (const e of unfinishedOps(events)) {
        if (!e.path) continue;
        const client = runs.get(e.run)!;
        open.push({ client, run: e.run, index: e.payload.index, path: e.path, journal });
      }
    }
    const all = texts.join('\n');
    for (const [text, entry] of this.written) {
      const places = where.get(text);
      if (entry.destroyedByUser || !places) continue;
      // A content no client ever saw, replaced by its own writer, is where they left it
      // (a bucket version). One that the engine replaced unseen was overwritten blind.
      if (entry.supersededByUser && !all.includes(this.#sha(encoder.encode(text)))) continue;
      if (places.some((p) => p.startsWith('file ') || p.startsWith('object '))) continue;
      const pointed = places.some((place) => {
        const [kind, rest] = [
          place.slice(0, place.indexOf(' ')),
          place.slice(place.indexOf(' ') + 1),
        ];
        if (kind === 'trash') {
          const client = rest.slice(0, rest.indexOf(':'));
          const location = rest.slice(rest.indexOf(':') + 1);
          const slot = /^run-(\d+)-op-(\d+)(?:~\d+)?\/(.+)$/.exec(location);
          return (
            all.includes(JSON.stringify(location)) ||
            (!!slot &&
              accept(
                open.find(
                  (o) =>
                    o.client === client &&
                    String(o.run) === slot[1] &&
                    String(o.index) === slot[2] &&
                    o.path === slot[3],
                ),
                location,
              ))
          );
        }
        if (kind === 'remote-trash') {
          const key = /^([^/]+)\/(\d+)(?:~\d+)?\/(.+)$/.exec(
            rest.slice(REMOTE_TRASH_PREFIX.length),
          );
          return (
            all.includes(JSON.stringify(rest)) ||
            (rest.startsWith(REMOTE_TRASH_PREFIX) &&
              !!key &&
              accept(
                open.find(
                  (o) => o.client === key[1] && String(o.run) === key[2] && o.path === key[3],
                ),
                rest,
              ))
          );
        }
        const versionId = rest.slice(rest.lastIndexOf('@') + 1);
        return all.includes(JSON.stringify(versionId));
      });
      if (!pointed) {
        throw new InvariantError(
          'journal-points',
          `${JSON.stringify(text)} (by ${entry.by}) is kept only at ${places.join(', ')}, and no journal points there`,
        );
      }
    }
    for (const u of unrecorded) {
      const c = this.clients.find((x) => x.name === u.client)!;
      const candidates = await restoreCandidates(
        {
          tree: c.user.tree,
          store: this.adapters.store.store,
          journal: c.journal,
          pair: { id: c.pairId, local: `model://${c.name}`, remote: 'model://bucket' },
          clientId: c.name,
        },
        u.path,
      );
      if (!candidates.some((k) => k.kept.trash === u.trash)) {
        throw new InvariantError(
          'journal-points',
          `${u.trash}, kept by a killed run of ${u.client} without a journal entry, is not among what restore would offer for ${u.path}: ${JSON.stringify(candidates)}`,
        );
      }
      coverage.unrecordedFound++;
    }
  }

  /**
   * Invariants 2 and 3: with faults healed and filters cleared, two quiet rounds of
   * syncs converge every tree and the bucket; one more sync moves nothing.
   */
  async settle(): Promise<void> {
    for (const c of this.clients) {
      c.filter = 0;
      for (const folder of FOLDERS) await c.user.setUnreadable(folder, false);
      c.unreadable.clear();
      // The links go too: a link cannot converge with the bucket's file.
      for (const link of c.links) await c.user.remove(link);
      c.links.clear();
    }
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < this.clients.length; i++) {
        await this.adapters.advance(5000);
        const result = await this.#quietSync(i);
        this.log.push(`round ${round} ${this.clients[i]!.name}: ${summary(result.report)}`);
      }
    }
    await this.checkNoLostWrite('the quiet rounds');
    const bucket = await this.#bucketFiles();
    this.converged = bucket;
    for (const c of this.clients) {
      const files = textMap(await c.user.files());
      if (JSON.stringify(files) !== JSON.stringify(bucket)) {
        throw new InvariantError(
          'convergence',
          `after two quiet rounds ${c.name} holds ${JSON.stringify(files)} but the bucket holds ${JSON.stringify(bucket)}\n${this.log.join('\n')}`,
        );
      }
    }
    for (let i = 0; i < this.clients.length; i++) {
      await this.adapters.advance(5000);
      const { report, plan } = await this.#quietSync(i);
      const moved = plan.filter((op) => op.action !== 'skip');
      if (moved.length > 0 || report.status !== 'in-sync') {
        throw new InvariantError(
          'idempotence',
          `a sync of ${this.clients[i]!.name} right after convergence planned ${JSON.stringify(moved.map((o) => [o.action, o.path, o.row]))} (status ${report.status})`,
        );
      }
    }
  }

  async #quietSync(i: number) {
    await this.adapters.advance(5000);
    let result = await this.sync(i);
    // A guard that blocks needs a user's go-ahead; in the quiet phase the user gives it.
    if (result?.report.status === 'blocked')
      result = await this.sync(i, [], null, { force: true, allowEmpty: true });
    if (!result) throw new Error('a quiet sync crashed');
    return result;
  }

  async #bucketFiles(): Promise<Record<string, string>> {
    const objects = await this.adapters.store.objects();
    return textMap(new Map([...objects].filter(([k]) => !k.startsWith(RESERVED_PREFIX))));
  }

  /**
   * Invariants 4, 5 and 6 over every journal: each run's plan replays byte for byte;
   * projections rebuilt from the events equal the live ones and the chain verifies;
   * no delete came from a side that was not completely seen.
   */
  async checkJournals(): Promise<void> {
    const seen = new Set<Journal>();
    for (const { journal, pairId } of this.journals) {
      const events = await journal.events({ pairId });
      const runs = await journal.runs({ pairId });
      for (const run of runs) {
        const replay = replayPlan(events, run.run, {
          hasher: this.adapters.hasher,
          excludedFor: excludedFor,
        });
        if (replay && !replay.matches) {
          throw new InvariantError(
            'determinism',
            `run ${run.run} of ${run.clientId}: the replayed plan ${JSON.stringify(replay.ops.map((o) => [o.action, o.path]))} differs from the recorded one`,
          );
        }
        checkGuards(events.filter((e) => e.run === run.run));
      }
      // A journal shared across cases is verified and rebuilt once, by its test, at the end.
      if (seen.has(journal) || this.adapters.sharedJournal) continue;
      seen.add(journal);
      const verified = await journal.verify();
      if (!verified.ok)
        throw new InvariantError('rebuild', `the hash chain breaks: ${JSON.stringify(verified)}`);
      const live = await readProjections(journal);
      const rebuilt = await journal.rebuild();
      const after = await readProjections(journal);
      if (!rebuilt.matched || JSON.stringify(live) !== JSON.stringify(after)) {
        throw new InvariantError(
          'rebuild',
          `rebuilt projections differ: ${JSON.stringify(rebuilt.tables)}`,
        );
      }
    }
  }
}

/** Whether the user cannot reach `path`: in an unreadable folder, or at or under a link. */
function blocked(c: ClientState, path: string): boolean {
  return (
    unreadableAt(c, path) ||
    [...c.links].some((link) => path === link || path.startsWith(`${link}/`))
  );
}

function unreadableAt(c: ClientState, path: string): boolean {
  return [...c.unreadable].some((folder) => path.startsWith(`${folder}/`));
}

/**
 * Invariant 6 from what the test knows, not from what the journal says: after a
 * listing page failed, no local delete of a key the listing never reached; with a
 * folder unreadable, no remote delete under it.
 */
function checkServed(
  plan: readonly PlanOp[],
  served: { failed: boolean; lastKey: string | null },
  unreadable: ReadonlySet<string>,
): void {
  for (const op of plan) {
    if (op.action === 'delete-local' && served.failed) {
      if (served.lastKey === null || comparePaths(op.path, served.lastKey) > 0) {
        throw new InvariantError(
          'guards',
          `a listing page failed after ${served.lastKey}, yet ${op.path} was deleted locally`,
        );
      }
    }
    if (op.action === 'delete-remote' && [...unreadable].some((f) => op.path.startsWith(`${f}/`))) {
      throw new InvariantError(
        'guards',
        `${op.path} is in an unreadable folder, yet was deleted remotely`,
      );
    }
  }
}

/** Invariant 6 for one run's events. */
function checkGuards(events: JournalEvent[]): void {
  const scan = events.find((e) => e.kind === 'scan.completed');
  const listing = events.find((e) => e.kind === 'listing.completed');
  const scanComplete = scan ? (scan.payload as { complete: boolean }).complete : true;
  const listed = listing?.payload as
    | { complete: boolean; listedThrough?: string | null }
    | undefined;
  const unreadable = (
    (scan?.payload as { errors?: Array<{ path?: string }> })?.errors ?? []
  ).flatMap((e) => (e.path ? [e.path] : []));
  const plan = events.find((e) => e.kind === 'plan.completed');
  if (plan && (plan.payload as { blocked: unknown }).blocked) {
    const acted = events.find((e) => e.kind === 'op.started' || e.kind === 'op.applied');
    if (acted) {
      throw new InvariantError(
        'guards',
        `run ${e2s(acted)} acted although a guard blocked its plan`,
      );
    }
  }
  for (const e of events) {
    if (e.kind !== 'plan.op' && e.kind !== 'op.applied') continue;
    const action = (e.payload as { action: string }).action;
    const path = e.path!;
    if (action === 'delete-local' && listed && !listed.complete) {
      const through = listed.listedThrough ?? null;
      if (through === null || comparePaths(path, through) > 0) {
        throw new InvariantError(
          'guards',
          `run ${e.run} deleted local ${path} although the listing stopped at ${through}`,
        );
      }
    }
    if (action === 'delete-remote' && !scanComplete) {
      if (
        unreadable.length === 0 ||
        unreadable.some((u) => path === u || path.startsWith(`${u}/`))
      ) {
        throw new InvariantError(
          'guards',
          `run ${e.run} deleted remote ${path} from an incomplete scan`,
        );
      }
    }
  }
}

function e2s(e: JournalEvent): string {
  return `${e.run} (${e.kind} ${e.path})`;
}

function filterOf(index: number): { filter?: PairFilter } {
  const spec = FILTERS[index] ?? null;
  if (!spec) return {};
  return { filter: { spec, excluded: predicate(spec.exclude) } };
}

function predicate(exclude: string): (path: string) => boolean {
  return exclude.endsWith('/') ? (p) => p.startsWith(exclude) : (p) => p.endsWith(exclude);
}

/** Rebuilds a journaled filter spec's predicate, for replays. */
export function excludedFor(spec: unknown): ((path: string) => boolean) | undefined {
  const exclude = (spec as { exclude?: unknown } | null)?.exclude;
  return typeof exclude === 'string' ? predicate(exclude) : undefined;
}

function textMap(files: Map<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries(
    [...files].sort(([a], [b]) => comparePaths(a, b)).map(([k, v]) => [k, decoder.decode(v)]),
  );
}

function summary(report: RunReport): string {
  return `${report.status} up ${report.uploaded} down ${report.downloaded} del ${report.deletedLocal}/${report.deletedRemote} conflicts ${report.conflicts.length} errors ${report.errors.map((e) => e.code).join(',')}`;
}

/** A crash inside an op comes back as a failed op; the journal append after it then throws the crash. */
function isCrashReport(error: unknown): boolean {
  return error instanceof Error && /simulated crash/.test(error.message);
}
