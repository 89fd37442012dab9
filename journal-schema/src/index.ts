export * from './migrations.js';
export * from './pglite-journal.js';
export * from './postgres-journal.js';
export * from './tables.js';
