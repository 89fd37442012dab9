import type { S3Client } from '@aws-sdk/client-s3';
import { runStoreConformance } from '@syncjournal/core/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { S3Store } from '../src/s3-store.js';
import { type S3rverProcess, startS3rver } from '../test-support/s3-s3rver-process.js';
import { s3TestClient } from '../test-support/s3-test-client.js';
import { type S3TestServer, startS3TestServer } from '../test-support/s3-test-server.js';

let run = 0;

/** A fresh prefix of `bucket` per test, with capabilities detected as the CLI does. */
async function freshStore(client: () => S3Client, bucket: string): Promise<{ store: S3Store }> {
  const store = await S3Store.fromUrl(`s3://${bucket}/conformance ü/run-${++run}/`, {
    client: client(),
  });
  await store.detectCapabilities();
  return { store };
}

for (const versioning of [false, true]) {
  describe(`S3Store on the S3 test server, versioning ${versioning ? 'on' : 'off'}`, () => {
    let server: S3TestServer;
    let client: S3Client;
    beforeAll(async () => {
      server = await startS3TestServer({ versioning });
      server.bucket('conformance');
      client = s3TestClient(server.url);
    });
    afterAll(async () => {
      client.destroy();
      await server.stop();
    });
    runStoreConformance(`S3Store on the S3 test server (versioning ${versioning})`, {
      create: () => freshStore(() => client, 'conformance'),
      capabilities: { conditionalWrites: true, versioning, snapshots: false },
      canCopy: true,
    });
  });
}

describe('S3Store on s3rver (listing order patched)', () => {
  let s3rver: S3rverProcess;
  let client: S3Client;
  beforeAll(async () => {
    s3rver = await startS3rver({ buckets: ['conformance'], fixListingOrder: true });
    client = s3TestClient(s3rver.url, s3rver.credentials);
  });
  afterAll(async () => {
    client.destroy();
    await s3rver.stop();
  });
  runStoreConformance('S3Store on s3rver', {
    create: () => freshStore(() => client, 'conformance'),
    capabilities: { conditionalWrites: false, versioning: false, snapshots: false },
    canCopy: true,
  });
});
