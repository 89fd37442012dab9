import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalLockedError } from '@syncjournal/core';
import { runStart, sampleRun } from '@syncjournal/journal-schema/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJournal } from '../src/index.js';
import { lockJournalDir } from '../src/open-journal.js';

// Child processes run the built package (dist/), which the test setup builds first.
const distEntry = new URL('../dist/index.js', import.meta.url).href;

/** Runs a script in a separate Node process that imports @syncjournal/node as `sj`. */
function child(script: string, opts: { killAfterLine?: string } = {}) {
  const code = `import * as sj from ${JSON.stringify(distEntry)};\n${script}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (opts.killAfterLine && stdout.includes(opts.killAfterLine)) proc.kill('SIGKILL');
    });
    proc.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { proc, done };
}

describe('a PGlite data directory opened by two processes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncjournal-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses the second process with a clear error and corrupts nothing', async () => {
    const location = join(dir, 'journal');
    const journal = await openJournal(location);
    const run = await journal.startRun(runStart('pair-1'));
    await journal.append(sampleRun(run));
    const before = await journal.dump();

    const second = child(`
      try {
        const j = await sj.openJournal(${JSON.stringify(location)});
        await j.append([{ kind: 'scan.removed', run: 1, path: 'z.md', payload: {} }]);
        console.log('OPENED');
      } catch (e) {
        console.log(JSON.stringify(e.toJSON ? e.toJSON() : { message: String(e) }));
      }`);
    const result = await second.done;
    expect(result.stderr).toBe('');
    const error = JSON.parse(result.stdout) as ReturnType<JournalLockedError['toJSON']>;
    expect(error).toMatchObject({
      name: 'JournalLockedError',
      code: 'journal-locked',
      data: { location, holderPid: process.pid },
    });
    expect(error.message).toMatch(
      /open in another process.*It was not read or written, and nothing was changed/s,
    );

    expect(await journal.dump()).toEqual(before);
    expect(await journal.verify()).toMatchObject({ ok: true, events: 1 + sampleRun(1).length });
    await journal.close();

    // Once the holder closed, the directory opens again with everything in it.
    const reopened = await openJournal(location);
    expect(await reopened.dump()).toEqual(before);
    expect((await reopened.verify()).ok).toBe(true);
    await reopened.close();
  });

  it('refuses a second open in the same process too', async () => {
    const location = join(dir, 'journal');
    const journal = await openJournal(location);
    await expect(openJournal(location)).rejects.toBeInstanceOf(JournalLockedError);
    await journal.close();
  });

  it('takes over the lock of a process that was killed, and keeps its committed events', async () => {
    const location = join(dir, 'journal');
    const killed = child(
      `const j = await sj.openJournal(${JSON.stringify(location)});
       const run = await j.startRun({ pairId: 'p', clientId: 'c', mode: 'sync', local: '/l', remote: 's3://b' });
       await j.append([{ kind: 'scan.added', run, path: 'a.md',
         payload: { kind: 'file', size: 1, mtimeMs: 1, hash: '${'a'.repeat(64)}' } }]);
       console.log('COMMITTED');
       await new Promise(() => {});`,
      { killAfterLine: 'COMMITTED' },
    );
    const result = await killed.done;
    expect(result.signal).toBe('SIGKILL');
    const lock = JSON.parse(await readFile(`${location}.lock`, 'utf8')) as { pid: number };
    expect(lock.pid).toBe(killed.proc.pid);

    const journal = await openJournal(location);
    expect((await journal.manifest('p')).map((r) => r.path)).toEqual(['a.md']);
    expect(await journal.verify()).toMatchObject({ ok: true, events: 2 });
    const taken = JSON.parse(await readFile(`${location}.lock`, 'utf8')) as { pid: number };
    expect(taken.pid).toBe(process.pid);
    await journal.close();
  });

  it('never runs initdb over a directory that is not a journal', async () => {
    const location = join(dir, 'photos');
    await rm(location, { recursive: true, force: true });
    await mkdir(location);
    await writeFile(join(location, 'holiday.jpg'), 'not a database');
    await expect(openJournal(location)).rejects.toMatchObject({
      code: 'journal-not-a-journal',
      message: expect.stringMatching(/not a syncjournal journal. Nothing was changed/),
    });
    expect(await readFile(join(location, 'holiday.jpg'), 'utf8')).toBe('not a database');
    // Refused without leaving its lock behind.
    await expect(readFile(`${location}.lock`, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads a journal held by another process as locked, even while it looks half deleted', async () => {
    // A restore deletes the old journal file by file, under its lock, before moving the
    // new one in: a sync opening it meanwhile must wait (exit 5), not call it foreign.
    const location = join(dir, 'being-replaced');
    await rm(location, { recursive: true, force: true });
    await mkdir(location);
    await writeFile(join(location, 'postgresql.conf'), '# PG_VERSION already gone');
    const held = await lockJournalDir(location, 'A journal restore');
    try {
      await expect(openJournal(location)).rejects.toBeInstanceOf(JournalLockedError);
    } finally {
      await held.release();
    }
  });
});
