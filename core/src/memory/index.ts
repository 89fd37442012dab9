export * from './memory-journal.js';
export * from './memory-store.js';
export * from './memory-tree.js';
