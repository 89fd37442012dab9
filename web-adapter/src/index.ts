export * from './folder-lock.js';
export * from './opfs-tree.js';
export * from './s3-client.js';
export * from './sync-api.js';
export * from './web-hasher.js';
