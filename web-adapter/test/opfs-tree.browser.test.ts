import { runTreeConformance } from '@syncjournal/core/testing';
import { OpfsTree } from '../src/opfs-tree.js';

let trees = 0;

// Run inside real Chromium: each test gets fresh folders in the origin private file system.
runTreeConformance('OpfsTree in Chromium', {
  caseInsensitive: false,
  create: async () => {
    const id = `conformance-${Date.now()}-${trees++}`;
    const tree = await OpfsTree.open({ root: `${id}/root`, trash: `${id}/trash` });
    return {
      tree,
      teardown: async () => {
        const opfs = await navigator.storage.getDirectory();
        await opfs.removeEntry(id, { recursive: true });
      },
    };
  },
});
