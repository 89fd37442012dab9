// The team scenarios, from the seeds' decision table and the failures they describe. Each
// team starts alike (A wrote 20 notes; A and B synced them) and ends with every client that
// can still sync having synced, so the table shows where things settled.
//
// A team can hold several rows of the table, each on notes of its own: the rows of one team
// share its runs (and so their exit codes) and are judged on their own notes only. Every
// syncjournal run starts a process that opens its journal (about 2 s here), so sharing the
// runs keeps the whole comparison to a minute or two; rows whose runs must stand alone (guards,
// a lost state dir, a kill) get a team of their own.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { notePath, TEAM_NOTES } from './world.mjs';

/** How many new files the killed run uploads, and how many must land before the kill. */
export const KILLED_RUN_FILES = 1000;
const KILL_AFTER_LANDED = 100;

export const teams = [
  {
    id: 'one-sided',
    rows: [
      { id: 'local-changed', title: 'local changed (A edits a note)', paths: [notePath(1)] },
      {
        id: 'remote-changed',
        title: 'remote changed (another tool replaces the object in the bucket)',
        paths: [notePath(2)],
      },
      { id: 'local-deleted', title: 'local deleted (A deletes a note)', paths: [notePath(3)] },
      {
        id: 'remote-deleted',
        title: 'remote deleted (another tool deletes the object in the bucket)',
        paths: [notePath(4)],
      },
      {
        id: 'stale-client',
        title:
          'stale client (A edits one note and deletes another; B, away, re-saved its old copies unchanged)',
        paths: [notePath(5), notePath(6)],
      },
    ],
    async run(w) {
      await w.setupTeam();
      await w.write('A', notePath(1), 'v2');
      await w.write('bucket', notePath(2), 'v2');
      await w.remove('A', notePath(3));
      await w.remove('bucket', notePath(4));
      await w.write('A', notePath(5), 'v2');
      await w.remove('A', notePath(6));
      // Same bytes, a newer mtime: an editor's "save all", or a copy that did not keep times.
      await w.touch('B', notePath(5));
      await w.touch('B', notePath(6));
      await w.sync('A');
      await w.sync('B');
      await w.sync('A');
    },
  },
  {
    id: 'conflicts',
    rows: [
      {
        id: 'both-changed',
        title: 'both changed (A and B edit the same note)',
        paths: [notePath(7)],
      },
      {
        id: 'local-delete-remote-edit',
        title: 'delete vs edit (A deletes a note that B edits)',
        paths: [notePath(8)],
      },
      {
        id: 'local-edit-remote-delete',
        title: 'edit vs delete (A edits a note that B deletes)',
        paths: [notePath(9)],
      },
    ],
    async run(w) {
      await w.setupTeam();
      await w.write('A', notePath(7), 'v2');
      await w.write('B', notePath(7), 'v3');
      await w.remove('A', notePath(8));
      await w.write('B', notePath(8), 'v2');
      await w.write('A', notePath(9), 'v2');
      await w.remove('B', notePath(9));
      await w.sync('B');
      await w.sync('A');
      await w.sync('B');
    },
  },
  {
    id: 'lost-baseline',
    rows: [
      {
        id: 'lost-baseline',
        title:
          "lost baseline (A edits one note and deletes another; B's state dir / workdir is gone, then B syncs)",
      },
    ],
    async run(w) {
      await w.setupTeam();
      await w.write('A', notePath(1), 'v2');
      await w.remove('A', notePath(2));
      await w.sync('A');
      await w.tool.forgetBaseline(w.clients.B);
      await w.sync('B');
      await w.sync('A');
    },
  },
  {
    id: 'killed-run',
    varies: true,
    rows: [
      {
        id: 'killed-run',
        title: `killed run (SIGKILL while A uploads ${KILLED_RUN_FILES} new files, then A and B sync)`,
      },
    ],
    async run(w) {
      await w.setupTeam();
      for (let n = 1; n <= KILLED_RUN_FILES; n++) {
        await w.write('A', `inbox/item-${String(n).padStart(4, '0')}.md`, 'v1');
      }
      await w.sync('A', { onSpawn: (child) => killOnceLanded(w, child) });
      await w.sync('A');
      await w.sync('B');
    },
  },
  {
    id: 'unmounted-empty',
    rows: [
      { id: 'unmounted-empty', title: "unmounted folder (A's folder is an empty mount point)" },
    ],
    async run(w) {
      await w.setupTeam();
      await w.empty('A');
      await w.sync('A');
      await w.sync('B');
    },
  },
  {
    id: 'unmounted-missing',
    rows: [{ id: 'unmounted-missing', title: "unmounted folder (A's folder is missing)" }],
    async run(w) {
      await w.setupTeam();
      await w.unmount('A');
      await w.sync('A');
      await w.sync('B');
    },
  },
  {
    id: 'emptied-bucket',
    rows: [
      {
        id: 'emptied-bucket',
        title: 'emptied bucket (every object gone; A and B still hold the notes)',
      },
    ],
    async run(w) {
      await w.setupTeam();
      await w.empty('bucket');
      await w.sync('A');
      await w.sync('B');
    },
  },
  deleteLimit(8),
  deleteLimit(12),
  {
    id: 'linked',
    rows: [
      {
        id: 'linked',
        title:
          "a file replaced by a link (A's tool moves a note out of the folder and links it back, as stow or git-annex do)",
      },
    ],
    async run(w) {
      await w.setupTeam();
      await w.linkOut('A', notePath(7));
      await w.sync('A');
      await w.sync('B');
    },
  },
];

/** A deletes `count` of the team's notes at once. */
function deleteLimit(count) {
  const share = Math.round((100 * count) / TEAM_NOTES);
  const id = `delete-${share}`;
  return {
    id,
    rows: [{ id, title: `delete limit (A deletes ${count} of ${TEAM_NOTES} notes, ${share}%)` }],
    async run(w) {
      await w.setupTeam();
      for (let n = 1; n <= count; n++) await w.remove('A', notePath(n));
      await w.sync('A');
      await w.sync('B');
    },
  };
}

/**
 * Polls the bucket's inbox folder and SIGKILLs the sync once some files have landed, so the
 * kill falls mid-transfer. `killedAfter` stays null when the run ended first (too fast).
 */
function killOnceLanded(w, child) {
  const inbox = join(w.bucket, 'inbox');
  let ended = false;
  child.on('close', () => {
    ended = true;
    w.killedAfter ??= null;
  });
  const poll = async () => {
    while (!ended) {
      const landed = (await readdir(inbox).catch(() => [])).length;
      if (landed >= KILL_AFTER_LANDED) {
        child.kill('SIGKILL');
        w.killedAfter = landed;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  poll();
}
