export * from './folder-store.js';
export * from './node-hasher.js';
export * from './node-tree.js';
export * from './open-journal.js';
export * from './pid-lock.js';
export * from './s3-store.js';
