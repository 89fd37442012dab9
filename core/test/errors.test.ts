import { describe, expect, it } from 'vitest';
import {
  InvalidEventError,
  JournalLockedError,
  JournalTooNewError,
  SyncJournalError,
} from '../src/index.js';

describe('errors', () => {
  it('keep their class, code and data across JSON', () => {
    const original = new JournalLockedError({
      location: '/state/journal',
      holderPid: 42,
      holderHost: 'laptop',
      since: '2026-01-01T00:00:00.000Z',
    });
    const wire = JSON.parse(JSON.stringify(original));
    const back = SyncJournalError.fromJSON(wire);
    expect(back).toBeInstanceOf(JournalLockedError);
    expect(back).toBeInstanceOf(SyncJournalError);
    expect(back.code).toBe('journal-locked');
    expect(back.data).toEqual(original.data);
    expect(back.message).toBe(original.message);
  });

  it('say what happened, what was kept safe and what to do next', () => {
    const tooNew = new JournalTooNewError({ found: 3, supported: 1, unknownMigrations: [] });
    expect(tooNew.message).toMatch(/newer syncjournal .*Nothing was changed.*Upgrade/s);
    const invalid = new InvalidEventError('run 9 was never started');
    expect(invalid.message).toMatch(/run 9 was never started\. Nothing of the batch was written/);
  });

  it('fall back to the base class for names they do not know', () => {
    const back = SyncJournalError.fromJSON({
      name: 'FutureError',
      code: 'x',
      message: 'm',
      data: {},
    });
    expect(back).toBeInstanceOf(SyncJournalError);
    expect(back.name).toBe('FutureError');
  });
});
