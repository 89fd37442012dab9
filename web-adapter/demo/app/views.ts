import type { ConflictRow, PlanOp, TimelineEntry } from '@syncjournal/core';
import type { FileEntry } from '../../src/sync-api.js';
import { h, when } from './dom.js';

/** What each plan action means to someone reading the plan before applying it. */
const ACTION_WORDS: Record<PlanOp['action'], string> = {
  upload: 'Send to the bucket',
  download: 'Bring from the bucket',
  'delete-remote': 'Delete in the bucket (the old version is kept)',
  'delete-local': 'Delete here (kept in the trash)',
  adopt: 'Same on both sides: remember it',
  conflict: 'Changed on both sides: keep both',
  forget: 'Gone on both sides: forget it',
  skip: 'Leave as it is',
};

/** How the history names each kind of run. */
const RUN_WORDS: Record<NonNullable<TimelineEntry['mode']>, string> = {
  sync: 'sync',
  'dry-run': 'plan shown (dry run)',
  check: 'check',
  resolve: 'your action',
};

/** The notes list; a note with an open conflict says so. */
export function notesList(
  notes: FileEntry[],
  conflicts: ConflictRow[],
  selected: string | null,
  onSelect: (path: string) => void,
): HTMLElement[] {
  const conflicted = new Set(conflicts.map((c) => c.path));
  const copies = new Set(
    conflicts.flatMap((c) => c.kept.filter((k) => k.path !== c.path).map((k) => k.path)),
  );
  if (notes.length === 0) return [h('li', { class: 'empty' }, 'No notes yet.')];
  return notes.map((n) =>
    h(
      'li',
      { 'data-path': n.path, class: n.path === selected ? 'selected' : undefined },
      h(
        'button',
        { type: 'button', onclick: () => onSelect(n.path) },
        h('span', { class: 'name' }, n.path),
        conflicted.has(n.path) && h('span', { class: 'badge conflict' }, 'conflict'),
        copies.has(n.path) && h('span', { class: 'badge quiet' }, 'conflict copy'),
      ),
    ),
  );
}

export interface NoteViewActions {
  onEdit(text: string): void;
  onTab(tab: 'note' | 'history'): void;
  onDelete(): void;
}

/** The header above a note: its path and the Note / History tabs. */
export function noteHeader(
  path: string,
  tab: 'note' | 'history',
  actions: NoteViewActions,
): HTMLElement {
  const tabButton = (name: 'note' | 'history', label: string) =>
    h(
      'button',
      {
        type: 'button',
        role: 'tab',
        'aria-selected': String(tab === name),
        class: tab === name ? 'tab active' : 'tab',
        onclick: () => actions.onTab(name),
      },
      label,
    );
  return h(
    'div',
    { class: 'note-header' },
    h('h2', { class: 'path' }, path),
    h(
      'div',
      { role: 'tablist', class: 'tabs' },
      tabButton('note', 'Note'),
      tabButton('history', 'History'),
    ),
    h(
      'button',
      { type: 'button', class: 'secondary small', onclick: () => actions.onDelete() },
      'Delete',
    ),
  );
}

/** The editor: what is typed is saved in the browser (OPFS) as it is typed. */
export function editor(text: string, saveState: string, actions: NoteViewActions): HTMLElement {
  return h(
    'div',
    { class: 'editor' },
    h(
      'textarea',
      {
        id: 'editor',
        spellcheck: 'false',
        'aria-label': 'Note text',
        oninput: (e: Event) => actions.onEdit((e.target as HTMLTextAreaElement).value),
      },
      text,
    ),
    h('p', { id: 'save-state', class: 'quiet' }, saveState),
  );
}

/** Both versions of a conflicted note, side by side, and the three ways to settle it. */
export function conflictView(
  conflict: ConflictRow,
  versions: { local: string | null; remote: string | null; copyPath: string | null },
  onResolve: (keep: 'local' | 'remote' | 'both') => void,
): HTMLElement {
  const side = (name: 'local' | 'remote', title: string, where: string, text: string | null) =>
    h(
      'div',
      { class: 'version', 'data-side': name },
      h('h3', {}, title),
      h('p', { class: 'quiet' }, where),
      h('pre', {}, text ?? '(deleted on this side)'),
    );
  return h(
    'section',
    { class: 'conflict-panel', 'aria-label': 'Conflict' },
    h(
      'p',
      { class: 'conflict-title' },
      h('strong', {}, 'This note changed here and in the bucket. '),
      `Both versions are kept until you choose (found in run ${conflict.run}).`,
    ),
    h(
      'div',
      { class: 'versions' },
      side(
        'local',
        'This browser',
        versions.copyPath ? `saved as ${versions.copyPath}` : 'this browser’s version',
        versions.local,
      ),
      side('remote', 'The bucket', `under ${conflict.path}`, versions.remote),
    ),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        { type: 'button', 'data-keep': 'local', onclick: () => onResolve('local') },
        'Keep this browser’s',
      ),
      h(
        'button',
        { type: 'button', 'data-keep': 'remote', onclick: () => onResolve('remote') },
        'Keep the bucket’s',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'data-keep': 'both',
          onclick: () => onResolve('both'),
        },
        'Keep both',
      ),
    ),
    h(
      'p',
      { class: 'quiet' },
      'The version you do not keep goes to the trash; the history of this note says where.',
    ),
  );
}

/** The journal's events about one note, replayed as a timeline grouped by run. */
export function historyView(
  entries: TimelineEntry[],
  onRestore: (run: number) => void,
): HTMLElement {
  if (entries.length === 0)
    return h('p', { class: 'empty' }, 'Nothing journaled yet: this note has not been synced.');
  const runs = new Map<number, TimelineEntry[]>();
  for (const e of entries) runs.set(e.run, [...(runs.get(e.run) ?? []), e]);
  return h(
    'ol',
    { class: 'timeline', 'aria-label': 'History' },
    [...runs].reverse().map(([run, events]) =>
      h(
        'li',
        { class: 'run', 'data-run': run },
        h(
          'div',
          { class: 'run-head' },
          h('strong', {}, `Run ${run}`),
          h(
            'span',
            { class: 'quiet' },
            ` · ${RUN_WORDS[events[0]!.mode ?? 'sync']} · ${events[0]!.client ?? 'unknown client'} · ${when(events[0]!.at)}`,
          ),
        ),
        h(
          'ul',
          {},
          events.map((e) =>
            h(
              'li',
              { class: `event ${e.kind.replace('.', '-')}`, 'data-kind': e.kind },
              h('code', {}, e.kind),
              ' ',
              e.text,
              e.restorable &&
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'secondary small restore',
                    onclick: () => onRestore(e.run),
                  },
                  'Restore this version',
                ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** The plan a sync would follow, shown before it is applied. */
export function planItems(plan: PlanOp[]): { summary: string; items: HTMLElement[] } {
  const acting = plan.filter((op) => op.action !== 'skip');
  if (acting.length === 0)
    return { summary: 'Nothing to do: this browser and the bucket agree.', items: [] };
  const counts = new Map<string, number>();
  for (const op of acting) counts.set(op.action, (counts.get(op.action) ?? 0) + 1);
  return {
    summary: [...counts].map(([a, n]) => `${n} × ${a}`).join(', '),
    items: acting.map((op) =>
      h(
        'li',
        { 'data-action': op.action },
        h('strong', {}, ACTION_WORDS[op.action]),
        ' ',
        h('code', {}, op.path),
        h('div', { class: 'quiet' }, op.why),
      ),
    ),
  };
}
