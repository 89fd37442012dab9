export * from './migrations.js';
export * from './pglite-journal.js';
export * from './postgres-journal.js';
export type { CachedProjection, ProjectionCache } from './projection-cache.js';
export * from './tables.js';
