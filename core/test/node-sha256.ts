import { createHash } from 'node:crypto';
import type { Hasher } from '../src/index.js';

/** node:crypto SHA-256 for core's tests (core itself never imports Node). */
export const sha256: Hasher = {
  create() {
    const h = createHash('sha256');
    return { update: (d) => void h.update(d), digest: () => h.digest('hex') };
  },
};
