export * from './s3-config.js';
export * from './s3-errors.js';
export * from './s3-store.js';
