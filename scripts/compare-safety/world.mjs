// One scenario's world for one tool: two clients (A and B, each a local folder with its own
// state dir or rclone workdir) and one bucket folder, plus a ledger of every version the
// scenario wrote and which of them a user later replaced or deleted on purpose.
import {
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** The number of notes every team starts with. */
export const TEAM_NOTES = 20;

/** `notes/note-01.md` … the paths of the team's starting notes. */
export function notePath(n) {
  return `notes/note-${String(n).padStart(2, '0')}.md`;
}

/** Who wrote a version, as the verdicts name them. */
const writerNames = { A: 'A', B: 'B', bucket: 'another tool' };

/**
 * Every version written, with its content (unique: it names its path, label and writer),
 * and who replaced or deleted it knowing it was there. A version nobody replaced on purpose
 * is *live*: someone's latest word on that file, which no sync may lose.
 */
export class Ledger {
  versions = [];

  /** `side` wrote `content` at `path` (null: deleted it) over `previous` (what it held). */
  record(side, path, content, previous) {
    const replaced = this.versions.find((v) => v.path === path && v.content === previous);
    if (replaced) replaced.supersededBy.push({ side, kind: content === null ? 'delete' : 'edit' });
    if (content === null) return;
    const label = content.trim().slice(path.length + 1);
    this.versions.push({ path, content, label, writer: side, supersededBy: [] });
  }

  get paths() {
    return new Set(this.versions.map((v) => v.path));
  }
}

/** A scenario's clients, bucket and ledger, and the steps it ran. */
export class World {
  constructor(root, tool) {
    this.root = root;
    this.tool = tool;
    this.home = join(root, 'home');
    this.bucket = join(root, 'bucket');
    this.clients = {
      A: { name: 'A', dir: join(root, 'A'), state: join(root, 'state-A') },
      B: { name: 'B', dir: join(root, 'B'), state: join(root, 'state-B') },
    };
    this.ledger = new Ledger();
    /** The syncs the scenario measures (not the team's setup), with what each changed. */
    this.steps = [];
  }

  async init() {
    for (const dir of [this.home, this.bucket, this.clients.A.dir, this.clients.B.dir]) {
      await mkdir(dir, { recursive: true });
    }
    for (const client of Object.values(this.clients)) await this.tool.newClientState(client);
  }

  /** The folder behind a side: a client's folder, or the bucket. */
  dirOf(side) {
    return side === 'bucket' ? this.bucket : this.clients[side].dir;
  }

  /** `side` saves version `label` of `path` (on the bucket side: another tool writes the object). */
  async write(side, path, label) {
    const content = `${path} ${label} by ${writerNames[side]}\n`;
    const file = join(this.dirOf(side), path);
    this.ledger.record(side, path, content, await readText(file));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }

  /** `side` deletes `path` on purpose. */
  async remove(side, path) {
    const file = join(this.dirOf(side), path);
    this.ledger.record(side, path, null, await readText(file));
    await rm(file);
  }

  /** `side` saves `path` again with the same bytes: only its mtime moves (not a new version). */
  async touch(side, path) {
    const now = new Date();
    await utimes(join(this.dirOf(side), path), now, now);
  }

  /** Everything on `side` vanishes by accident (an unmount, a wiped bucket): not a user's delete. */
  async empty(side) {
    const dir = this.dirOf(side);
    for (const entry of await readdir(dir)) await rm(join(dir, entry), { recursive: true });
  }

  /**
   * `side`'s tool moves `path` out of the folder and links it back (as stow or git-annex
   * do): the same content, now behind a symbolic link. Not a user's delete.
   */
  async linkOut(side, path) {
    const file = join(this.dirOf(side), path);
    const outside = join(this.home, 'linked', side, path);
    await mkdir(dirname(outside), { recursive: true });
    await rename(file, outside);
    await symlink(outside, file);
  }

  /** A client's folder is not there at all (the drive it lives on is not mounted). */
  async unmount(side) {
    await rm(this.dirOf(side), { recursive: true });
  }

  /** The team's starting point: A writes the notes, and both clients sync them (not measured). */
  async setupTeam(count = TEAM_NOTES) {
    for (let n = 1; n <= count; n++) await this.write('A', notePath(n), 'v1');
    // rclone's --check-access file: created once, synced to the bucket and B like any file.
    if (this.tool.checkFile) await writeFile(join(this.clients.A.dir, this.tool.checkFile), '');
    for (const client of [this.clients.A, this.clients.B]) {
      for (const attempt of await this.tool.setupSync(this, client)) {
        if (attempt.outcome !== 'ok') {
          throw new Error(`setup sync of ${client.name} failed: ${attempt.message}`);
        }
      }
    }
  }

  /** A measured sync of one client, recording each attempt and the sides before and after. */
  async sync(name, options) {
    const before = await this.userFiles();
    const started = Date.now();
    const attempts = await this.tool.sync(this, this.clients[name], options);
    const ms = Date.now() - started;
    // Messages name temp paths (rclone also folds them into its workdir file names).
    for (const a of attempts) a.message = a.message?.replace(/\S*compare-safety-\w+\S*/g, '…');
    this.steps.push({ client: name, attempts, before, after: await this.userFiles(), ms });
  }

  /** The user's files on each side (the tools' own files left out), path → content. */
  async userFiles() {
    const sides = {};
    for (const side of ['A', 'B', 'bucket']) {
      const files = await readTree(this.dirOf(side));
      for (const path of files.keys()) if (this.tool.isOwnFile(path)) files.delete(path);
      sides[side] = files;
    }
    return sides;
  }

  /** Files in the tool's trash locations, as [{ place, path, content }]. */
  async trashFiles() {
    const found = [];
    for (const { dir, place } of this.tool.trashRoots(this)) {
      for (const [path, content] of await readTree(dir)) found.push({ place, path, content });
    }
    return found;
  }
}

export function sameTree(a, b) {
  if (a.size !== b.size) return false;
  for (const [path, content] of a) if (b.get(path) !== content) return false;
  return true;
}

/** Every regular file under `dir` (path relative to it, `/`-separated) → its text; {} if missing. */
export async function readTree(dir) {
  const files = new Map();
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return files;
    throw error;
  }
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    // A link to a file reads as that file, as the user's editor opens it.
    const linkedFile = entry.isSymbolicLink() && (await stat(full).catch(() => null))?.isFile();
    if (!entry.isFile() && !linkedFile) continue;
    files.set(full.slice(dir.length + 1), await readFile(full, 'utf8'));
  }
  return files;
}

async function readText(file) {
  return readFile(file, 'utf8').catch((error) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}
