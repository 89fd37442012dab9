import { createHash } from 'node:crypto';
import type { Hasher } from '@syncjournal/core';

/** SHA-256 from node:crypto (OpenSSL, SHA-NI where the CPU has it). */
export const nodeHasher: Hasher = {
  create() {
    const hash = createHash('sha256');
    return {
      update(data) {
        hash.update(data);
      },
      digest: () => hash.digest('hex'),
    };
  },
};
