export { runClockConformance, runHasherConformance, SHA256_VECTORS } from './hasher-conformance.js';
export {
  type JournalSetup,
  readProjections,
  runJournalConformance,
} from './journal-conformance.js';
export { emptyReport, hex, runStart, sampleRun, scanEntry } from './journal-fixtures.js';
export {
  runStoreConformance,
  type StoreFixture,
  type StoreSetup,
} from './store-conformance.js';
export { runTreeConformance, type TreeFixture, type TreeSetup } from './tree-conformance.js';
