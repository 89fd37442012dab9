import { randomBytes } from 'node:crypto';

const SEED = randomBytes(8).toString('hex');
let count = 0;

/**
 * A name no other call in any process will return: this process's id, a random seed
 * drawn once per process, and a counter. Temp files are created with `wx`, so a name
 * that someone planted fails the create rather than being reused; the seed keeps the
 * names from being guessed ahead. (Drawing fresh random bytes per name cost ~14 µs a
 * call, three calls per uploaded file.)
 */
export function uniqueName(): string {
  count += 1;
  return `${process.pid}-${SEED}-${count.toString(36)}`;
}
