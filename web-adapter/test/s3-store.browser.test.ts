import { runStoreConformance } from '@syncjournal/core/testing';
import { S3Store } from '@syncjournal/s3';
import { describe, expect, inject, it } from 'vitest';
import { browserS3Client } from '../src/s3-client.js';
import { createWebHasher } from '../src/web-hasher.js';

const hasher = await createWebHasher();
let run = 0;

// The S3 store as a web page uses it: Chromium's fetch, CORS preflights, bodies as
// Uint8Array, checksums only where required — against the S3 test server over HTTP.
for (const [versioning, endpoint] of [
  [false, inject('s3Endpoint')],
  [true, inject('s3VersionedEndpoint')],
] as const) {
  const client = browserS3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'syncjournal-test', secretAccessKey: 'syncjournal-test' },
  });
  runStoreConformance(`S3Store in Chromium (versioning ${versioning})`, {
    create: async () => {
      const store = new S3Store(
        { bucket: 'browser', prefix: `run-${Date.now()}-${++run}/` },
        { hasher, client },
      );
      await store.detectCapabilities();
      return { store };
    },
    capabilities: { conditionalWrites: true, versioning, snapshots: false },
    canCopy: true,
  });
}

describe('S3Store in Chromium, first contact', () => {
  it('no server at the endpoint: one sentence, with the CORS hint fetch cannot spell out', async () => {
    const store = new S3Store(
      { bucket: 'browser', prefix: 'nowhere/' },
      {
        hasher,
        client: browserS3Client({
          endpoint: 'http://127.0.0.1:1',
          region: 'us-east-1',
          forcePathStyle: true,
          maxAttempts: 1,
          credentials: { accessKeyId: 'syncjournal-test', secretAccessKey: 'syncjournal-test' },
        }),
      },
    );
    const error = await store.detectCapabilities().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 's3-unreachable' });
    expect((error as Error).message).toMatch(
      /^Could not reach the server of s3:\/\/browser\/nowhere\/ \(.*fetch.*\)\. Nothing was read or written\. .*CORS rules allow this page's origin/,
    );
  });
});
