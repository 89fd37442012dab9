import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJournalTests } from '@syncjournal/journal-schema/testing';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { nodeHasher, openJournal } from '../src/index.js';

runJournalTests('PGlite in memory', {
  hasher: nodeHasher,
  upkeep: true,
  open: () => openJournal('memory://'),
});

const dirs: string[] = [];
runJournalTests('a PGlite data directory', {
  hasher: nodeHasher,
  upkeep: true,
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'syncjournal-test-'));
    dirs.push(dir);
    return openJournal(join(dir, 'journal'));
  },
});
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

// A real PostgreSQL server (see scripts/test-postgres.ts): a fresh database per test.
const serverUrl = inject('postgresUrl');
const admin = new pg.Pool({ connectionString: serverUrl, max: 2 });
let databases = 0;
runJournalTests('a PostgreSQL server', {
  hasher: nodeHasher,
  upkeep: false,
  async open() {
    const name = `syncjournal_test_${process.pid}_${++databases}`;
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return openJournal(url.toString());
  },
  async dispose(journal) {
    const name = new URL(journal.location).pathname.slice(1);
    await admin.query(`drop database if exists ${name} with (force)`);
  },
});
afterAll(() => admin.end());
