export * from './s3-config.js';
export * from './s3-errors.js';
export { SNAPSHOT_VERSION_HEADER, withHeader } from './s3-snapshots.js';
export * from './s3-store.js';
