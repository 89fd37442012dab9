import { runHasherConformance } from '@syncjournal/core/testing';
import { createWebHasher } from '../src/web-hasher.js';

// The same published vectors as node:crypto's hasher: one SHA-256 identity everywhere.
runHasherConformance('hash-wasm + WebCrypto in Chromium', await createWebHasher());
