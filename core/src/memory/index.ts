export * from './memory-store.js';
export * from './memory-tree.js';
