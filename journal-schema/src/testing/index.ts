export * from './fixtures.js';
export * from './journal-tests.js';
