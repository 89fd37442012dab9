import type { OpAction } from '../journal/events.js';

/**
 * The decision table of the product contract, as data: every row the reconciler can
 * produce, the action it plans, and the sentence a report shows. A plan op carries
 * its row's id, so "why did this happen?" is answered by the journal.
 */
export const DECISION_TABLE = {
  'local-new': { action: 'upload', why: 'new locally; nothing at this key remotely' },
  'local-changed': {
    action: 'upload',
    why: 'changed locally; unchanged remotely since the last sync',
  },
  'remote-new': { action: 'download', why: 'new remotely; nothing at this path locally' },
  'remote-changed': {
    action: 'download',
    why: 'changed remotely; unchanged locally since the last sync',
  },
  'local-deleted': {
    action: 'delete-remote',
    why: 'deleted locally; unchanged remotely since the last sync',
  },
  'remote-deleted': {
    action: 'delete-local',
    why: 'deleted remotely; unchanged locally since the last sync',
  },
  'both-changed-same': { action: 'adopt', why: 'changed on both sides to the same content' },
  'both-changed': {
    action: 'conflict',
    why: 'changed differently on both sides: both versions are kept',
  },
  'local-deleted-remote-changed': {
    action: 'conflict',
    why: 'deleted locally but changed remotely: the remote edit is restored locally',
  },
  'local-changed-remote-deleted': {
    action: 'conflict',
    why: 'changed locally but deleted remotely: the local edit is uploaded again',
  },
  'both-deleted': { action: 'forget', why: 'deleted on both sides' },
  'both-new-same': { action: 'adopt', why: 'new on both sides with the same content' },
  'both-new-different': {
    action: 'conflict',
    why: 'new on both sides with different content: both are kept',
  },
  'remote-touched': { action: 'adopt', why: 'rewritten remotely with the same content' },
  'local-unknown': { action: 'skip', why: 'the local folder holding it could not be read' },
  'local-left-out': {
    action: 'skip',
    why: 'locally this is a symbolic link, a special file or a name that cannot be read back: it is left out, never followed or replaced',
  },
  'remote-unknown': { action: 'skip', why: 'the remote listing did not reach this key' },
  'unsafe-key': { action: 'skip', why: 'this remote key cannot be a safe local path' },
} as const satisfies Record<string, { action: OpAction; why: string }>;

/** The id of a decision-table row. */
export type DecisionRowId = keyof typeof DECISION_TABLE;
