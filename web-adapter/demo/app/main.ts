import type { ConflictRow, ProgressEvent, RunReport } from '@syncjournal/core';
import type { Remote } from 'comlink';
import { openSyncWorker, progressListener } from '../../src/client.js';
import type { FileEntry, SyncApi } from '../../src/sync-api.js';
import { clientId, loadConfig } from './config.js';
import { h, when } from './dom.js';
import {
  conflictView,
  editor,
  historyView,
  type NoteViewActions,
  noteHeader,
  notesList,
  planItems,
} from './views.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ROOT = 'notes';

let api: Remote<SyncApi>;
let notes: FileEntry[] = [];
let conflicts: ConflictRow[] = [];
let selected: string | null = null;
let tab: 'note' | 'history' = 'note';
let syncing = false;
let saveState = '';
/** The edit not yet written to OPFS, and the text the editor shows as saved. */
let pending: { path: string; text: string } | null = null;
let saveTimer: ReturnType<typeof setTimeout> | undefined;
let shownText: string | null = null;
let renderToken = 0;

function setSyncState(text: string, tone: 'ok' | 'busy' | 'warn' | 'error' = 'ok') {
  const el = $('sync-state');
  el.textContent = text;
  el.dataset.tone = tone;
}

/**
 * Whether the bucket can be reached. `navigator.onLine` alone is not enough (it says
 * true behind a dead link, and after a reload while offline), so the page also asks
 * the bucket's endpoint: any answer at all, even an error status, means reachable.
 */
let reachable = true;
let bucketEndpoint = '';
let probeTimer: ReturnType<typeof setInterval> | undefined;

const isOnline = () => navigator.onLine && reachable;

async function probe(): Promise<boolean> {
  if (!navigator.onLine) return false;
  try {
    await fetch(bucketEndpoint, { method: 'HEAD', mode: 'no-cors', cache: 'no-store' });
    return true;
  } catch {
    return false;
  }
}

/** Re-checks the network; coming back online syncs what was written meanwhile. */
async function checkNetwork(): Promise<void> {
  const was = isOnline();
  reachable = await probe();
  showNetwork();
  if (!was && isOnline() && api) void runSync();
}

function showNetwork() {
  const el = $('network');
  el.textContent = isOnline() ? 'Online' : 'Offline';
  el.dataset.online = String(isOnline());
  // While offline, look again every few seconds.
  if (!isOnline() && !probeTimer) probeTimer = setInterval(() => void checkNetwork(), 3000);
  if (isOnline() && probeTimer) {
    clearInterval(probeTimer);
    probeTimer = undefined;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes the pending edit to the browser's folder (OPFS). */
async function flushSave(): Promise<void> {
  clearTimeout(saveTimer);
  const edit = pending;
  if (!edit) return;
  pending = null;
  setSaveState('Saving…');
  await api.writeFile(edit.path, edit.text);
  shownText = edit.text;
  setSaveState(`Saved in this browser at ${when(new Date().toISOString())}`);
  if (!notes.some((n) => n.path === edit.path)) await refreshList();
}

function setSaveState(text: string) {
  saveState = text;
  const el = document.getElementById('save-state');
  if (el) el.textContent = text;
}

const actions: NoteViewActions = {
  onEdit(text) {
    if (!selected) return;
    pending = { path: selected, text };
    setSaveState('Editing…');
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => void flushSave().catch(showError), 300);
  },
  onTab(next) {
    void flushSave()
      .then(() => {
        tab = next;
        return renderContent();
      })
      .catch(showError);
  },
  onDelete() {
    const path = selected;
    if (!path) return;
    void (async () => {
      await flushSave();
      await api.deleteFile(path);
      selected = null;
      setSyncState(`Deleted ${path} here (kept in this browser's trash); Sync to send it.`, 'warn');
      await refresh();
    })().catch(showError);
  },
};

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await api.readText(path);
  } catch {
    return null;
  }
}

async function refreshList(): Promise<void> {
  [notes, conflicts] = await Promise.all([api.list(), api.conflicts('open')]);
  notes.sort((a, b) => a.path.localeCompare(b.path));
  $('notes').replaceChildren(...notesList(notes, conflicts, selected, select));
  const open = conflicts.length;
  $('sync').textContent = open ? `Sync… (${open} conflict${open > 1 ? 's' : ''})` : 'Sync…';
}

async function refresh(): Promise<void> {
  await refreshList();
  await renderContent();
}

function select(path: string): void {
  void flushSave()
    .then(() => {
      selected = path;
      tab = 'note';
      return refresh();
    })
    .catch(showError);
}

/** Renders the selected note: its conflict (if open), editor or history. */
async function renderContent(): Promise<void> {
  const token = ++renderToken;
  const content = $('content');
  if (!selected) {
    content.replaceChildren(
      h(
        'p',
        { class: 'empty' },
        'Pick a note or add one. Everything you write is saved in this browser, with or without a network; Sync sends it to the bucket.',
      ),
    );
    return;
  }
  const path = selected;
  const header = noteHeader(path, tab, actions);
  if (tab === 'history') {
    const entries = await api.timeline(path);
    if (token !== renderToken) return;
    content.replaceChildren(
      header,
      historyView(entries, (run) => void restore(path, run)),
    );
    return;
  }
  const conflict = conflicts.find((c) => c.path === path);
  if (conflict) {
    const copyPath = conflict.kept.find((k) => k.side === 'local' && k.path !== path)?.path ?? null;
    const [local, remote] = await Promise.all([
      copyPath ? readOrNull(copyPath) : Promise.resolve(null),
      readOrNull(path),
    ]);
    if (token !== renderToken) return;
    content.replaceChildren(
      header,
      conflictView(conflict, { local, remote, copyPath }, (keep) => void resolve(path, keep)),
    );
    shownText = null;
    return;
  }
  const text = (await readOrNull(path)) ?? '';
  if (token !== renderToken) return;
  const view = editor(text, saveState, actions);
  content.replaceChildren(header, view);
  const area = view.querySelector('textarea')!;
  area.value = text;
  shownText = text;
}

/** After a sync: the open note shows what is now on disk, unless the user is typing. */
async function refreshAfterSync(): Promise<void> {
  await refreshList();
  if (selected && tab === 'note' && !pending && !conflicts.some((c) => c.path === selected)) {
    const text = await readOrNull(selected);
    const area = document.getElementById('editor') as HTMLTextAreaElement | null;
    if (area && text !== null && text !== shownText && !pending) {
      area.value = text;
      shownText = text;
      return;
    }
  }
  await renderContent();
}

async function resolve(path: string, keep: 'local' | 'remote' | 'both'): Promise<void> {
  try {
    const result = await api.resolve(path, keep);
    const words = {
      'keep-local': 'kept this browser’s version; the bucket’s is in the trash',
      'keep-remote': 'kept the bucket’s version; this browser’s is in the trash',
      'keep-both': 'kept both versions',
    }[result.resolution];
    setSyncState(`Resolved ${path}: ${words} (see History). Sync to send it to the bucket.`);
    await refresh();
  } catch (error) {
    showError(error);
  }
}

async function restore(path: string, run: number): Promise<void> {
  try {
    const restored = await api.restore(path, run);
    setSyncState(`Restored the version run ${restored.fromRun} replaced, to ${restored.to}.`);
    selected = restored.to;
    tab = 'note';
    await refresh();
  } catch (error) {
    showError(error);
  }
}

function describeReport(report: RunReport): [string, 'ok' | 'warn' | 'error'] {
  const moved = `↑${report.uploaded} ↓${report.downloaded}`;
  const at = when(new Date().toISOString());
  switch (report.status) {
    case 'in-sync':
      return [`Synced at ${at} · run ${report.run} · ${moved}`, 'ok'];
    case 'conflicts':
      return [
        `Run ${report.run}: ${report.conflicts.length} conflict${report.conflicts.length > 1 ? 's' : ''} — both versions kept; pick one`,
        'warn',
      ];
    case 'blocked':
      return [
        `Run ${report.run} blocked: ${report.blocked?.reason ?? 'a guard'} Nothing was changed.`,
        'error',
      ];
    default:
      return [
        `Run ${report.run} failed: ${report.errors[0]?.message ?? 'see the history'} Your notes are safe in this browser.`,
        'error',
      ];
  }
}

function onProgress(event: ProgressEvent) {
  if (event.phase === 'scan') setSyncState(`Syncing: scanned ${event.files} notes…`, 'busy');
  else if (event.phase === 'list')
    setSyncState(`Syncing: listed ${event.objects} objects…`, 'busy');
  else setSyncState(`Syncing: ${event.done}/${event.total} ${event.path}`, 'busy');
}

/** Applies a sync (after the plan was shown, or on reconnect) and shows the outcome. */
async function runSync(): Promise<void> {
  if (syncing) return;
  if (!isOnline()) {
    setSyncState(
      'Offline — your notes are saved in this browser and sync when the network is back.',
      'warn',
    );
    return;
  }
  syncing = true;
  $<HTMLButtonElement>('sync').disabled = true;
  try {
    await flushSave();
    setSyncState('Syncing…', 'busy');
    const { report } = await api.sync({}, progressListener(onProgress));
    setSyncState(...describeReport(report));
    await refreshAfterSync();
  } catch (error) {
    showError(error);
    void checkNetwork();
  } finally {
    syncing = false;
    $<HTMLButtonElement>('sync').disabled = false;
  }
}

/** Sync button: plans (a dry run, journaled), shows the plan, applies on Apply. */
async function reviewPlan(): Promise<void> {
  if (!isOnline()) {
    setSyncState(
      'Offline — your notes are saved in this browser and sync when the network is back.',
      'warn',
    );
    return;
  }
  try {
    await flushSave();
    setSyncState('Planning…', 'busy');
    const plan = await api.plan();
    const { summary, items } = planItems(plan);
    $('plan-summary').textContent = summary;
    $('plan-ops').replaceChildren(...items);
    $<HTMLButtonElement>('plan-apply').disabled = items.length === 0;
    $('plan-cancel').textContent = items.length === 0 ? 'Close' : 'Cancel';
    setSyncState('Review the plan', 'busy');
    $<HTMLDialogElement>('plan-dialog').showModal();
  } catch (error) {
    showError(error);
    void checkNetwork();
  }
}

function showError(error: unknown) {
  setSyncState(message(error), 'error');
}

async function main() {
  window.addEventListener('offline', () => void checkNetwork());
  window.addEventListener('online', () => void checkNetwork());
  if ('serviceWorker' in navigator) {
    const ready = () => {
      $('offline-ready').hidden = !navigator.serviceWorker.controller;
    };
    navigator.serviceWorker.addEventListener('controllerchange', ready);
    ready();
  }

  const config = await loadConfig();
  if (!config) {
    setSyncState('No bucket settings yet: open this page once while online.', 'error');
    return;
  }
  bucketEndpoint = config.endpoint;
  reachable = await probe();
  showNetwork();
  const worker = new Worker(new URL('../../src/worker.ts', import.meta.url), { type: 'module' });
  try {
    api = await openSyncWorker(worker, {
      root: ROOT,
      journal: 'idb://syncjournal-demo',
      clientId: clientId(),
      store: {
        kind: 's3',
        url: config.bucket,
        endpoint: config.endpoint,
        region: config.region,
        forcePathStyle: config.forcePathStyle,
        credentials: config.credentials,
      },
    });
  } catch (error) {
    showError(error);
    return;
  }
  const status = await api.status();
  setSyncState(
    status.lastRun
      ? `Last run ${status.lastRun.run} (${status.lastRun.status}) at ${when(status.lastRun.startedAt)}`
      : 'Not synced yet',
    status.lastRun?.status === 'failed' ? 'warn' : 'ok',
  );
  document.body.dataset.ready = 'true';
  $<HTMLButtonElement>('sync').disabled = false;
  $('sync').addEventListener('click', () => void reviewPlan());
  $('plan-cancel').addEventListener('click', () => {
    $<HTMLDialogElement>('plan-dialog').close();
    setSyncState('Sync cancelled; nothing was changed.', 'ok');
  });
  $('plan-apply').addEventListener('click', () => {
    $<HTMLDialogElement>('plan-dialog').close();
    void runSync();
  });
  $('new-note').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const input = form.elements.namedItem('name') as HTMLInputElement;
    const name = input.value.trim().replace(/^\/+/, '');
    if (!name) return;
    const path = /\.[a-z0-9]+$/i.test(name) ? name : `${name}.md`;
    input.value = '';
    void (async () => {
      await flushSave();
      if (!notes.some((n) => n.path === path)) await api.writeFile(path, '');
      selected = path;
      tab = 'note';
      await refresh();
      document.getElementById('editor')?.focus();
    })().catch(showError);
  });
  await refresh();
}

void main();
