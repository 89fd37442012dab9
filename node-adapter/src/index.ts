export * from './node-hasher.js';
export * from './open-journal.js';
export * from './pid-lock.js';
