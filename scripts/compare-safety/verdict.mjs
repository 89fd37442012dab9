// Verdicts from what is on disk after a scenario, never from expectations: every version the
// scenario wrote is looked for, byte for byte, on both clients, in the bucket and in the
// tool's trash, and the one-line verdict is built from what was and was not found.
import { sameTree } from './world.mjs';

/**
 * What a team's runs left behind for one row of the table: the row's versions found and lost,
 * what came back, refusals. A row with `paths` is judged on those notes and their conflict
 * copies only; a row without, on everything.
 */
export async function evaluate(world, row) {
  const inRow = row.paths ? belongsTo(row.paths) : () => true;
  const sides = onlyRow(await world.userFiles(), inRow);
  const places = placesByContent(sides, await world.trashFiles());
  const versions = world.ledger.versions
    .filter((v) => inRow(v.path))
    .map((v) => ({ ...v, places: places.get(v.content) ?? [] }));
  const live = versions.filter((v) => v.supersededBy.length === 0);
  const old = versions.filter((v) => v.supersededBy.length > 0);
  const paths = world.ledger.paths;
  const steps = world.steps.map(({ client, attempts, before, after, ms }) => {
    const changed = !sameSides(onlyRow(before, inRow), onlyRow(after, inRow));
    return { client, attempts, changed, ms };
  });
  return {
    versions,
    steps,
    lostLive: live.filter((v) => v.places.length === 0),
    lostOld: old.filter((v) => v.places.length === 0),
    onlyInTrash: live.filter((v) => v.places.length > 0 && v.places.every((p) => p.trash)),
    cameBack: cameBack(old, sides),
    renamedAway: renamedAway(live, sides),
    conflictCopies: new Set(
      Object.values(sides).flatMap((files) => [...files.keys()].filter((p) => !paths.has(p))),
    ).size,
    converged: sameTree(sides.A, sides.B) && sameTree(sides.A, sides.bucket),
    sides,
  };
}

/** A note and the conflict copies named after it (`note-07.conflict-…`, `note-07.md..path1`). */
function belongsTo(paths) {
  const stems = paths.map((p) => `${p.replace(/\.[^./]*$/, '')}.`);
  return (path) => paths.includes(path) || stems.some((stem) => path.startsWith(stem));
}

function onlyRow(sides, inRow) {
  const picked = {};
  for (const [side, files] of Object.entries(sides)) {
    picked[side] = new Map([...files].filter(([path]) => inRow(path)));
  }
  return picked;
}

function sameSides(a, b) {
  return Object.keys(a).every((side) => sameTree(a[side], b[side]));
}

/** content → where it is: [{ side, path, trash }], for every user file and trash copy. */
function placesByContent(sides, trash) {
  const places = new Map();
  const add = (content, place) => {
    if (!places.has(content)) places.set(content, []);
    places.get(content).push(place);
  };
  for (const [side, files] of Object.entries(sides)) {
    for (const [path, content] of files) add(content, { side, path, trash: false });
  }
  for (const { place, path, content } of trash) add(content, { side: place, path, trash: true });
  return places;
}

/**
 * Versions a user replaced or deleted that are back under their own name on that user's
 * side (or, for another tool's change, in the bucket): a resurrected delete, a reverted edit.
 */
function cameBack(old, sides) {
  const found = [];
  for (const version of old) {
    for (const { side, kind } of version.supersededBy) {
      if (sides[side].get(version.path) !== version.content) continue;
      if (!found.some((f) => f.path === version.path && f.kind === kind)) {
        found.push({ path: version.path, kind, side });
      }
    }
  }
  return found;
}

/** Paths whose live versions survive only under other names (conflict copies), on every side. */
function renamedAway(live, sides) {
  const paths = new Set();
  for (const version of live) {
    const kept = version.places.some((p) => !p.trash);
    const atName = Object.values(sides).some((files) => files.has(version.path));
    if (kept && !atName) paths.add(version.path);
  }
  return [...paths];
}

/** The last attempt of a step: what the user was left with. */
const finalAttempt = (step) => step.attempts.at(-1);

/** The one-line verdict, assembled from the evaluation's findings in a fixed order. */
export function verdictOf(result) {
  const parts = [];
  const refused = result.steps.filter((s) => ['guard', 'error'].includes(finalAttempt(s).outcome));
  const nothingChanged = result.steps.every((s) => !s.changed);
  if (refused.length > 0) {
    const kind = refused.some((s) => finalAttempt(s).outcome === 'guard')
      ? 'blocked (guard)'
      : 'stopped (error)';
    parts.push(nothingChanged ? `${kind}, nothing changed` : kind);
  }
  const handled = new Set(
    result.steps.flatMap((s) =>
      s.attempts.filter((a) => a.followUp).map((a) => `refused (${reasonOf(a)}); ${a.followUp}`),
    ),
  );
  parts.push(...handled);
  if (result.lostLive.length > 0) parts.push(`**lost ${describe(result.lostLive)}**`);
  const resurrected = result.cameBack.filter((c) => c.kind === 'delete').map((c) => c.path);
  if (resurrected.length > 0) parts.push(`resurrected deleted ${pathList(resurrected)}`);
  const reverted = result.cameBack.filter((c) => c.kind === 'edit').map((c) => c.path);
  if (reverted.length > 0) parts.push(`old content back in ${pathList(reverted)}`);
  if (result.onlyInTrash.length > 0) {
    parts.push(`${count(result.onlyInTrash.length, 'live file')} only in the trash`);
  }
  if (result.renamedAway.length > 0) {
    parts.push(`${pathList(result.renamedAway)} only under conflict names`);
  }
  if (result.lostLive.length === 0) parts.push(keptSummary(result));
  if (refused.length === 0 && !result.converged) parts.push('sides differ');
  return parts.join('; ');
}

/** "empty current Path1 listing" from rclone's "Bisync critical error: empty current …: <file>". */
function reasonOf(attempt) {
  return attempt.message
    .replace(/^.*(critical error|Failed to bisync): /i, '')
    .replace(/[,:].*$/, '')
    .trim();
}

function keptSummary(result) {
  const copies = result.conflictCopies;
  const extra = copies > 0 ? ` (${count(copies, 'conflict copy', 'conflict copies')})` : '';
  if (result.lostOld.length === 0) return `kept all${extra}`;
  const old = result.lostOld;
  const kinds = new Set(old.flatMap((v) => v.supersededBy.map((s) => s.kind)));
  const what = kinds.size > 1 ? 'replaced or deleted' : kinds.has('edit') ? 'replaced' : 'deleted';
  return `kept the latest${extra}; no copy of ${count(old.length, `${what} version`)}`;
}

/** "notes/note-01.md v2 by A", or the first one and how many more. */
function describe(versions) {
  const first = `"${versions[0].path} ${versions[0].label}"`;
  return versions.length === 1 ? first : `${versions.length} versions (${first}, …)`;
}

function pathList(paths) {
  return paths.length <= 2 ? paths.join(', ') : `${paths.length} files`;
}

function count(n, singular, plural = `${singular}s`) {
  return `${n} ${n === 1 ? singular : plural}`;
}
