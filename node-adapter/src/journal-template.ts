import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGliteDirectoryTemplates } from '@syncjournal/journal-schema';
import { isErrno } from './folder-store-io.js';
import { uniqueName } from './unique-name.js';

/** The list a template carries of its folders and files, written last. */
const LIST = 'syncjournal-template.json';

interface TemplateList {
  format: 1;
  dirs: string[];
  files: { path: string; size: number; sha256: string }[];
}

/**
 * Templates for new journals in the user's cache folder (`$XDG_CACHE_HOME/syncjournal`,
 * else `~/.cache/syncjournal`), one per PGlite version: the first journal created on a
 * machine runs initdb and leaves a copy of the fresh data directory there, listing its
 * folders and its files' sizes and SHA-256; later journals are copied from it, every file
 * checked against the list as it is copied. A template torn by a crash (it is not flushed)
 * or changed since is forgotten, and that journal made by initdb.
 * `SYNCJOURNAL_JOURNAL_TEMPLATE=0` turns this off.
 *
 * Blocking calls: ~1,000 files and 40 MB, copied in ~50 ms, once per new journal.
 */
export function cachedTemplates(dataDir: string): PGliteDirectoryTemplates | undefined {
  if (process.env.SYNCJOURNAL_JOURNAL_TEMPLATE === '0') return undefined;
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'syncjournal');
  const template = join(cache, `pglite-${pgliteVersion()}-initdb`);
  return {
    async copy() {
      let text: string;
      try {
        text = fs.readFileSync(join(template, LIST), 'utf8');
      } catch (error) {
        // No template yet; a folder without its list was not made by keep(): damaged.
        if (isErrno(error, 'ENOENT') && !fs.existsSync(template)) return false;
        throw error;
      }
      const list = parseList(text);
      fs.mkdirSync(dataDir, { recursive: true });
      for (const dir of list.dirs) fs.mkdirSync(join(dataDir, dir), { recursive: true });
      for (const file of list.files) {
        const bytes = fs.readFileSync(join(template, file.path));
        if (bytes.length !== file.size || sha256(bytes) !== file.sha256) {
          throw new Error(`${file.path} in the journal template differs from its list`);
        }
        fs.writeFileSync(join(dataDir, file.path), bytes, { flag: 'wx' });
      }
      return true;
    },
    async keep() {
      fs.mkdirSync(cache, { recursive: true });
      // Made aside and renamed: a process copying it never sees half a template.
      const temp = `${template}.${uniqueName()}`;
      try {
        const list: TemplateList = { format: 1, dirs: [], files: [] };
        copyInto(dataDir, temp, '', list);
        fs.writeFileSync(join(temp, LIST), `${JSON.stringify(list)}\n`);
        fs.renameSync(temp, template);
      } catch (error) {
        fs.rmSync(temp, { recursive: true, force: true });
        // Another process kept one first: theirs is as good.
        if (isErrno(error, 'ENOTEMPTY', 'EEXIST')) return;
        throw error;
      }
      // The dump that earlier versions kept for the same PGlite.
      fs.rmSync(`${template}.tar.gz`, { force: true });
    },
    async discard() {
      // Moved away first: a process copying it meanwhile fails (and falls back to
      // initdb) instead of copying part of it.
      const away = `${template}.discarded-${uniqueName()}`;
      try {
        fs.renameSync(template, away);
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      fs.rmSync(away, { recursive: true, force: true });
      // The data dir was empty before the copy: empty it again for initdb.
      for (const entry of listOrNothing(dataDir)) {
        fs.rmSync(join(dataDir, entry), { recursive: true, force: true });
      }
    },
  };
}

/** Copies the tree `from` (a data directory) to `to`, adding what it copies to `list`. */
function copyInto(from: string, to: string, prefix: string, list: TemplateList): void {
  fs.mkdirSync(to);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const path = prefix + entry.name;
    const source = join(from, entry.name);
    if (entry.isDirectory()) {
      list.dirs.push(path);
      copyInto(source, join(to, entry.name), `${path}/`, list);
    } else if (entry.isFile()) {
      const bytes = fs.readFileSync(source);
      fs.writeFileSync(join(to, entry.name), bytes, { flag: 'wx' });
      list.files.push({ path, size: bytes.length, sha256: sha256(bytes) });
    } else {
      throw new Error(`${source} is neither a file nor a folder; no template kept`);
    }
  }
}

function parseList(text: string): TemplateList {
  const list = JSON.parse(text) as Partial<TemplateList>;
  const ok =
    list.format === 1 &&
    Array.isArray(list.dirs) &&
    list.dirs.every(isInside) &&
    Array.isArray(list.files) &&
    list.files.every(
      (f) => isInside(f?.path) && Number.isSafeInteger(f.size) && /^[0-9a-f]{64}$/.test(f.sha256),
    );
  if (!ok) throw new Error('the journal template list is not one keep() wrote');
  return list as TemplateList;
}

/** A relative path that stays inside the folder it is joined to. */
function isInside(path: unknown): path is string {
  return (
    typeof path === 'string' &&
    path !== '' &&
    !isAbsolute(path) &&
    normalize(path) === path.split('/').join(sep) &&
    !path.split('/').includes('..')
  );
}

function listOrNothing(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function pgliteVersion(): string {
  const main = fileURLToPath(import.meta.resolve('@electric-sql/pglite'));
  const pkg = JSON.parse(fs.readFileSync(join(dirname(main), '..', 'package.json'), 'utf8'));
  return String(pkg.version);
}
