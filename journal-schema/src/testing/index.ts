export { emptyReport, hex, runStart, sampleRun, scanEntry } from '@syncjournal/core/testing';
export * from './journal-tests.js';
