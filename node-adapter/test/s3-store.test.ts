import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type BodySource, collectBytes } from '@syncjournal/core';
import { runStoreConformance } from '@syncjournal/core/testing';
import { withHeader } from '@syncjournal/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfigFromEnv, parseS3Url, S3Store } from '../src/s3-store.js';
import { type S3rverProcess, startS3rver } from '../test-support/s3-s3rver-process.js';
import { multipartEtag } from '../test-support/s3-server-model.js';
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

// Versioning off and on, and a Tigris-like bucket with snapshots (versioning off).
for (const { versioning, snapshots } of [
  { versioning: false, snapshots: false },
  { versioning: true, snapshots: false },
  { versioning: false, snapshots: true },
]) {
  const name = `versioning ${versioning ? 'on' : 'off'}${snapshots ? ', snapshots' : ''}`;
  describe(`S3Store on the S3 test server, ${name}`, () => {
    let server: S3TestServer;
    let client: S3Client;
    beforeAll(async () => {
      server = await startS3TestServer({ versioning, snapshots });
      server.bucket('conformance');
      client = s3TestClient(server.url);
    });
    afterAll(async () => {
      client?.destroy();
      await server?.stop();
    });
    runStoreConformance(`S3Store on the S3 test server (${name})`, {
      create: () => freshStore(() => client, 'conformance'),
      capabilities: { conditionalWrites: true, versioning, snapshots },
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
    client?.destroy();
    await s3rver?.stop();
  });
  runStoreConformance('S3Store on s3rver', {
    create: () => freshStore(() => client, 'conformance'),
    capabilities: { conditionalWrites: false, versioning: false, snapshots: false },
    canCopy: true,
  });

  it('detects no conditional writes and no versioning, and the probe leaves nothing behind', async () => {
    const store = await S3Store.fromUrl('s3://conformance/detect/', { client });
    expect(await store.detectCapabilities()).toEqual({
      conditionalWrites: false,
      versioning: false,
      snapshots: false,
    });
    expect(store.capabilities).toEqual({
      conditionalWrites: false,
      versioning: false,
      snapshots: false,
    });
    const bucket = await S3Store.fromUrl('s3://conformance', { client });
    const keys = (await bucket.list()).objects.map((o) => o.key);
    expect(keys.filter((key) => key.includes('.syncjournal/'))).toEqual([]);
  });

  it('refuses a versionId it cannot honour: s3rver ignores it and sends the current object', async () => {
    const store = await freshStore(() => client, 'conformance');
    await store.store.put('a.md', bytes('one'), { sha256: sha256Hex('one') });
    await expect(store.store.get('a.md', { versionId: 'v1' })).rejects.toMatchObject({
      code: 'not-found',
    });
  });
});

const bytes = (text: string) => new TextEncoder().encode(text);
const sha256Hex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** Deterministic bytes of every value. */
function patternBytes(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + (i >> 8) + seed) & 0xff);
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `data` as a streamed body in `chunk`-byte pieces; `between` runs before piece `at`. */
function streamed(
  data: Uint8Array,
  options: { chunk?: number; size?: number; at?: number; between?: () => unknown } = {},
): BodySource {
  const chunk = options.chunk ?? 7_777;
  return {
    size: options.size ?? data.byteLength,
    async *open() {
      for (let offset = 0, index = 0; offset < data.byteLength; offset += chunk, index++) {
        if (index === options.at) await options.between?.();
        yield data.slice(offset, offset + chunk);
      }
    },
  };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('S3Store and the S3 test server', () => {
  let plain: S3TestServer;
  let versioned: S3TestServer;
  let plainClient: S3Client;
  let versionedClient: S3Client;
  beforeAll(async () => {
    plain = await startS3TestServer({ minPartSize: 64 * 1024 });
    versioned = await startS3TestServer({ versioning: true });
    plain.bucket('bkt');
    versioned.bucket('bkt');
    plainClient = s3TestClient(plain.url);
    versionedClient = s3TestClient(versioned.url);
  });
  afterAll(async () => {
    plainClient?.destroy();
    versionedClient?.destroy();
    await Promise.all([plain?.stop(), versioned?.stop()]);
  });
  const store = async (
    prefix: string,
    options: { versioned?: boolean; detect?: boolean } & Record<string, unknown> = {},
  ) => {
    const { versioned: useVersioned, detect, ...rest } = options;
    const s = await S3Store.fromUrl(`s3://bkt/${prefix}`, {
      client: useVersioned ? versionedClient : plainClient,
      ...rest,
    });
    if (detect !== false) await s.detectCapabilities();
    return s;
  };

  describe('capabilities and configuration', () => {
    it('detects conditional writes without versioning, and removes the probe', async () => {
      const s = await store('caps-plain/', { detect: false });
      expect(s.capabilities).toEqual({
        conditionalWrites: false,
        versioning: false,
        snapshots: false,
      });
      expect(await s.detectCapabilities()).toEqual({
        conditionalWrites: true,
        versioning: false,
        snapshots: false,
      });
      expect(
        plain
          .bucket('bkt')
          .versionedKeys()
          .filter((k) => k.startsWith('caps-plain/')),
      ).toEqual([]);
    });

    it("detects Tigris snapshots from HeadBucket, takes one with CreateBucket's header, reads as of it", async () => {
      const tigris = await startS3TestServer();
      const client = s3TestClient(tigris.url);
      try {
        // A bucket created with X-Tigris-Enable-Snapshot: true, as Tigris users make them.
        const create = withHeader(
          new CreateBucketCommand({ Bucket: 'snap' }),
          'X-Tigris-Enable-Snapshot',
          'true',
        );
        await client.send(create);
        await client.send(new CreateBucketCommand({ Bucket: 'plain' }));
        const snap = await S3Store.fromUrl('s3://snap/notes/', { client });
        expect((await snap.detectCapabilities()).snapshots).toBe(true);
        const plainStore = await S3Store.fromUrl('s3://plain/notes/', { client });
        expect((await plainStore.detectCapabilities()).snapshots).toBe(false);
        await expect(plainStore.snapshot()).rejects.toMatchObject({ code: 'not-supported' });

        tigris.bucket('snap').putObject('notes/a.md', 'one');
        const version = await snap.snapshot();
        expect(version).toMatch(/^\d{19,}$/);
        tigris.bucket('snap').putObject('notes/a.md', 'two');
        expect(
          tigris.requests.some((r) => r.operation === 'CreateBucket' && r.status === 200),
        ).toBe(true);
        const then = await snap.get('a.md', { snapshot: version });
        expect(Buffer.from(await collectBytes(then.body)).toString()).toBe('one');
        // A version that is not one is refused by the server, not read as the live bucket.
        await expect(snap.list(undefined, { snapshot: 'yesterday' })).rejects.toThrow();
      } finally {
        client.destroy();
        await tigris.stop();
      }
    });

    it('detects versioning, and deletes every probe version by id (no markers left)', async () => {
      const s = await store('caps-versioned/', { versioned: true, detect: false });
      expect(await s.detectCapabilities()).toEqual({
        conditionalWrites: true,
        versioning: true,
        snapshots: false,
      });
      const left = versioned
        .bucket('bkt')
        .versionedKeys()
        .filter((k) => k.startsWith('caps-versioned/'));
      expect(left).toEqual([]);
      const probes = versioned.requests.filter((r) => r.key?.startsWith('caps-versioned/'));
      expect(probes.map((r) => [r.operation, r.status])).toEqual([
        ['PutObject', 200],
        ['PutObject', 412],
        ['PutObject', 412],
        ['DeleteObject', 412],
        ['DeleteObject', 204],
      ]);
    });

    it('sends no conditions before detection (it cannot know they are enforced)', async () => {
      const s = await store('undetected/', { detect: false });
      await s.put('a.md', bytes('one'), { sha256: sha256Hex('one') });
      await s.put('a.md', bytes('two'), { sha256: sha256Hex('two'), ifNoneMatch: '*' });
      expect(plain.bucket('bkt').current('undetected/a.md')?.data?.toString()).toBe('two');
    });

    it('parses s3:// URLs into bucket and a prefix ending with /', () => {
      expect(parseS3Url('s3://bucket')).toEqual({ bucket: 'bucket', prefix: '' });
      expect(parseS3Url('s3://bucket/')).toEqual({ bucket: 'bucket', prefix: '' });
      expect(parseS3Url('s3://my.bucket-1/notes')).toEqual({
        bucket: 'my.bucket-1',
        prefix: 'notes/',
      });
      expect(parseS3Url('s3://b12/team notes//2026/')).toEqual({
        bucket: 'b12',
        prefix: 'team notes/2026/',
      });
      expect(parseS3Url('s3://b12/100%25')).toEqual({ bucket: 'b12', prefix: '100%25/' });
      for (const bad of ['s3://', 's3://Bucket/x', 'http://bucket/x', 's3://b/x?y', 's3://a/x']) {
        expect(() => parseS3Url(bad), bad).toThrow(
          expect.objectContaining({ code: 's3-invalid-url' }),
        );
      }
    });

    it('reads the standard AWS variables and SYNCJOURNAL_S3_FORCE_PATH_STYLE', () => {
      expect(clientConfigFromEnv({})).toMatchObject({
        region: 'us-east-1',
        forcePathStyle: false,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 3,
      });
      expect(clientConfigFromEnv({})).not.toHaveProperty('endpoint');
      expect(
        clientConfigFromEnv({
          AWS_ENDPOINT_URL: 'https://fly.storage.tigris.dev',
          AWS_ACCESS_KEY_ID: 'id',
          AWS_SECRET_ACCESS_KEY: 'secret',
          SYNCJOURNAL_S3_FORCE_PATH_STYLE: '1',
        }),
      ).toMatchObject({
        endpoint: 'https://fly.storage.tigris.dev',
        region: 'auto',
        forcePathStyle: true,
        credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
      });
      expect(
        clientConfigFromEnv({
          AWS_ENDPOINT_URL: 'https://general.example',
          AWS_ENDPOINT_URL_S3: 'https://s3.example',
          AWS_REGION: 'eu-west-1',
          AWS_PROFILE: 'team',
        }),
      ).toMatchObject({ endpoint: 'https://s3.example', region: 'eu-west-1', profile: 'team' });
    });

    it('works configured from the environment alone', async () => {
      const s = await S3Store.fromUrl('s3://bkt/from-env', {
        env: {
          AWS_ENDPOINT_URL_S3: plain.url,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'id',
          AWS_SECRET_ACCESS_KEY: 'secret',
          SYNCJOURNAL_S3_FORCE_PATH_STYLE: '1',
        },
      });
      try {
        await s.detectCapabilities();
        await s.put('x.md', bytes('x'), { sha256: sha256Hex('x') });
        expect((await s.list()).objects.map((o) => o.key)).toEqual(['x.md']);
        expect(plain.bucket('bkt').current('from-env/x.md')).toBeDefined();
      } finally {
        s.close();
      }
    });
  });

  describe('puts and reads', () => {
    it('records the SHA-256 as x-amz-meta-sha256 and as a checksum the server verified', async () => {
      const s = await store('sha/');
      await s.put('a.md', bytes('hello'), { sha256: sha256Hex('hello').toUpperCase() });
      const stored = plain.bucket('bkt').current('sha/a.md');
      expect(stored?.metadata).toEqual({ sha256: sha256Hex('hello') });
      expect(stored?.checksumSha256).toBe(createHash('sha256').update('hello').digest('base64'));
      expect((await s.head('a.md'))?.sha256).toBe(sha256Hex('hello'));
    });

    it('refuses a body that is not what was declared, before sending anything', async () => {
      const s = await store('declared/');
      const before = plain.requests.length;
      await expect(
        s.put('a.md', bytes('hello'), { sha256: sha256Hex('other') }),
      ).rejects.toMatchObject({ code: 'precondition-failed', data: { side: 'local' } });
      const data = patternBytes(5_000);
      for (const size of [4_999, 5_001]) {
        await expect(
          s.put('b.md', streamed(data, { size }), { sha256: sha256Hex(data) }),
        ).rejects.toMatchObject({ code: 'precondition-failed', data: { side: 'local' } });
      }
      expect(plain.requests.slice(before)).toEqual([]);
      expect(await s.head('a.md')).toBeUndefined();
    });

    it('the server refuses a wrong x-amz-checksum-sha256 with BadDigest', async () => {
      await expect(
        plainClient.send(
          new PutObjectCommand({
            Bucket: 'bkt',
            Key: 'bad-digest.md',
            Body: bytes('hello'),
            ChecksumSHA256: createHash('sha256').update('other').digest('base64'),
          }),
        ),
      ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
      expect(plain.bucket('bkt').current('bad-digest.md')).toBeUndefined();
    });

    it('lists in pages of pageSize and leaves out probe objects and the prefix marker', async () => {
      const s = await store('paged/', { pageSize: 2 });
      for (const key of ['c', 'a', 'b', 'd', 'e'])
        await s.put(key, bytes('x'), { sha256: sha256Hex('x') });
      plain.bucket('bkt').putObject('paged/.syncjournal/probe/left-over', 'probe');
      plain.bucket('bkt').putObject('paged/', '');
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await s.list(cursor);
        pages.push(page.objects.map((o) => o.key));
        cursor = page.next ?? undefined;
      } while (cursor);
      expect(pages.flat()).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(pages.every((page) => page.length <= 2)).toBe(true);
    });

    it('a missing bucket fails the listing: never an empty store', async () => {
      const s = await S3Store.fromUrl('s3://no-such-bucket/x', { client: plainClient });
      await expect(s.list()).rejects.toMatchObject({ name: 'NoSuchBucket' });
    });

    it('delete answers the delete marker version id on a versioned bucket, nothing otherwise', async () => {
      const v = await store('markers/', { versioned: true });
      await v.put('a.md', bytes('one'), { sha256: sha256Hex('one') });
      const { versionId } = await v.delete('a.md');
      expect(versioned.bucket('bkt').latest('markers/a.md')).toMatchObject({
        versionId,
        isDeleteMarker: true,
      });
      const p = await store('markers/');
      await p.put('a.md', bytes('one'), { sha256: sha256Hex('one') });
      expect(await p.delete('a.md')).toEqual({});
    });

    it('lists versions and delete markers in the server order, even within one second', async () => {
      const v = await store('interleaved/', { versioned: true });
      const first = await v.put('a.md', bytes('one'), { sha256: sha256Hex('one') });
      const marker1 = await v.delete('a.md');
      const second = await v.put('a.md', bytes('two'), { sha256: sha256Hex('two') });
      const marker2 = await v.delete('a.md');
      await v.put('a.md2', bytes('x'), { sha256: sha256Hex('x') });
      const versions = await v.listVersions('a.md');
      expect(versions.map((x) => [x.versionId, x.isDeleteMarker, x.isLatest])).toEqual([
        [marker2.versionId, true, true],
        [second.versionId, false, false],
        [marker1.versionId, true, false],
        [first.versionId, false, false],
      ]);
      expect(versions[1]).toMatchObject({ etag: second.etag, size: 3 });
      await expect(v.get('a.md', { versionId: marker1.versionId as string })).rejects.toMatchObject(
        {
          code: 'not-found',
        },
      );
      expect(
        await readAll((await v.get('a.md', { versionId: first.versionId as string })).body),
      ).toEqual(Buffer.from('one'));
    });

    it('copies with the metadata, only if the source is still what it read', async () => {
      const s = await store('copy/');
      const put = await s.put('a b+c.md', bytes('hello'), { sha256: sha256Hex('hello') });
      const copied = await s.copy('a b+c.md', 'trash/a b+c.md');
      expect(copied).toMatchObject({
        key: 'trash/a b+c.md',
        size: 5,
        etag: put.etag,
        sha256: sha256Hex('hello'),
      });
      expect(plain.bucket('bkt').current('copy/trash/a b+c.md')?.metadata).toEqual({
        sha256: sha256Hex('hello'),
      });
      await expect(
        plainClient.send(
          new CopyObjectCommand({
            Bucket: 'bkt',
            Key: 'copy/c.md',
            CopySource: `bkt/${encodeURIComponent('copy/a b+c.md')}`,
            CopySourceIfMatch: '"stale"',
          }),
        ),
      ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      await expect(s.copy('missing.md', 'x.md')).rejects.toMatchObject({ code: 'not-found' });
    });
  });

  describe('multipart uploads', () => {
    const tuning = { multipartThreshold: 256 * 1024, partSize: 100 * 1024, partConcurrency: 2 };
    const data = patternBytes(300_000);
    const sha256 = sha256Hex(data);
    const since = (server: S3TestServer, from: number, key: string) =>
      server.requests.slice(from).filter((r) => r.key === key);

    it('go multipart above the threshold, round-trip, and record the SHA-256', async () => {
      const s = await store('mp-ok/', tuning);
      for (const [name, body] of [
        ['bytes.bin', data],
        ['stream.bin', streamed(data, { chunk: 65_537 })],
      ] as const) {
        const from = plain.requests.length;
        const put = await s.put(name, body, { sha256 });
        expect(since(plain, from, `mp-ok/${name}`).map((r) => r.operation)).toEqual([
          'CreateMultipartUpload',
          'UploadPart',
          'UploadPart',
          'UploadPart',
          'CompleteMultipartUpload',
        ]);
        const parts = [
          data.subarray(0, 102_400),
          data.subarray(102_400, 204_800),
          data.subarray(204_800),
        ];
        expect(put).toMatchObject({ key: name, size: 300_000, etag: multipartEtag(parts), sha256 });
        expect(await s.head(name)).toMatchObject({ size: 300_000, etag: put.etag, sha256 });
        expectSame(await readAll((await s.get(name)).body), data);
      }
      expect(plain.bucket('bkt').multipartUploads()).toEqual([]);
    });

    it('a part that keeps failing aborts the upload: no object, no parts left', async () => {
      const s = await store('mp-fail/', tuning);
      plain.injectFault({
        operation: 'UploadPart',
        partNumber: 2,
        status: 400,
        code: 'InvalidRequest',
        times: Infinity,
      });
      const from = plain.requests.length;
      try {
        await expect(s.put('a.bin', data, { sha256 })).rejects.toMatchObject({
          name: 'InvalidRequest',
        });
      } finally {
        plain.clearFaults();
      }
      const operations = since(plain, from, 'mp-fail/a.bin').map((r) => r.operation);
      expect(operations).toContain('AbortMultipartUpload');
      expect(operations).not.toContain('CompleteMultipartUpload');
      expect(plain.bucket('bkt').multipartUploads()).toEqual([]);
      expect(await s.head('a.bin')).toBeUndefined();
    });

    it('a part that fails once is retried by the SDK', async () => {
      const s = await store('mp-retry/', tuning);
      plain.injectFault({ operation: 'UploadPart', key: 'mp-retry/a.bin', partNumber: 2 });
      const from = plain.requests.length;
      await s.put('a.bin', data, { sha256 });
      const parts = since(plain, from, 'mp-retry/a.bin').filter(
        (r) => r.operation === 'UploadPart',
      );
      expect(parts.map((r) => r.status).sort()).toEqual([200, 200, 200, 500]);
      expectSame(await readAll((await s.get('a.bin')).body), data);
    });

    it('a source that fails or is not what was declared aborts the upload', async () => {
      const s = await store('mp-source/', tuning);
      const failing: BodySource = {
        size: data.byteLength,
        async *open() {
          yield data.slice(0, 150_000);
          throw new Error('disk went away');
        },
      };
      await expect(s.put('a.bin', failing, { sha256 })).rejects.toThrow('disk went away');
      const changed = patternBytes(300_000, 1);
      await expect(s.put('b.bin', streamed(changed), { sha256 })).rejects.toMatchObject({
        code: 'precondition-failed',
        data: { side: 'local' },
      });
      await expect(
        s.put('c.bin', streamed(data, { size: 300_001 }), { sha256 }),
      ).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      expect(plain.bucket('bkt').multipartUploads()).toEqual([]);
      expect(
        plain
          .bucket('bkt')
          .keys()
          .filter((k) => k.startsWith('mp-source/')),
      ).toEqual([]);
    });

    it('conditions are checked on completion: 412 and 409 become PreconditionFailedError', async () => {
      const s = await store('mp-cond/', tuning);
      const existing = await s.put('a.bin', bytes('one'), { sha256: sha256Hex('one') });
      await expect(s.put('a.bin', data, { sha256, ifNoneMatch: '*' })).rejects.toMatchObject({
        code: 'precondition-failed',
        data: { side: 'remote' },
      });
      expect((await s.head('a.bin'))?.etag).toBe(existing.etag);
      const replaced = await s.put('a.bin', data, { sha256, ifMatch: existing.etag });
      expect((await s.head('a.bin'))?.etag).toBe(replaced.etag);

      const from = plain.requests.length;
      const racing = streamed(data, {
        at: 3,
        between: () => plain.bucket('bkt').putObject('mp-cond/new.bin', 'teammate'),
      });
      await expect(s.put('new.bin', racing, { sha256, ifNoneMatch: '*' })).rejects.toMatchObject({
        code: 'precondition-failed',
      });
      expect(
        since(plain, from, 'mp-cond/new.bin').find(
          (r) => r.operation === 'CompleteMultipartUpload',
        ),
      ).toMatchObject({
        status: 409,
        code: 'ConditionalRequestConflict',
      });
      expect(plain.bucket('bkt').current('mp-cond/new.bin')?.data?.toString()).toBe('teammate');
      expect(plain.bucket('bkt').multipartUploads()).toEqual([]);
    });
  });

  describe('the test server itself', () => {
    const raw = (path: string, init: RequestInit = {}) => fetch(`${plain.url}${path}`, init);

    it('answers ListObjectsV2 with the document AWS sends', async () => {
      plain.bucket('xml').putObject('dir/a&b.md', 'hello');
      plain.bucket('xml').putObject('dir/c.md', 'x');
      const first = await raw('/xml?list-type=2&prefix=dir%2F&max-keys=1');
      expect(first.headers.get('content-type')).toBe('application/xml');
      const text = await first.text();
      const token = /<NextContinuationToken>(.*)<\/NextContinuationToken>/.exec(text)?.[1] ?? '';
      const modified = /<LastModified>(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z)<\/LastModified>/.exec(
        text,
      )?.[1];
      expect(modified).toBeDefined();
      expect(text).toBe(
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
          '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
          '<Name>xml</Name><Prefix>dir/</Prefix>' +
          `<NextContinuationToken>${token}</NextContinuationToken>` +
          '<KeyCount>1</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>true</IsTruncated>' +
          `<Contents><Key>dir/a&amp;b.md</Key><LastModified>${modified}</LastModified>` +
          '<ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size>' +
          '<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>',
      );
      const second = await (
        await raw(
          `/xml?list-type=2&prefix=dir%2F&max-keys=1&continuation-token=${encodeURIComponent(token)}`,
        )
      ).text();
      expect(second).toContain(
        `<ContinuationToken>${token}</ContinuationToken><KeyCount>1</KeyCount>`,
      );
      expect(second).toContain('<Key>dir/c.md</Key>');
      expect(second).toContain('<IsTruncated>false</IsTruncated>');
      expect(second).not.toContain('NextContinuationToken');
    });

    it('answers errors with S3 XML documents, and HEAD errors without a body', async () => {
      plain.bucket('xml');
      const missing = await raw('/xml/missing%20key.md');
      expect(missing.status).toBe(404);
      expect(await missing.text()).toMatch(
        /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchKey<\/Code><Message>The specified key does not exist.<\/Message><Key>missing key.md<\/Key><RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/,
      );
      const head = await raw('/xml/missing.md', { method: 'HEAD' });
      expect([head.status, await head.text()]).toEqual([404, '']);
      const bucket = await raw('/nowhere?list-type=2');
      expect([bucket.status, await bucket.text()]).toEqual([
        404,
        expect.stringContaining('<Code>NoSuchBucket</Code>'),
      ]);
    });

    it('answers 501 NotImplemented for what it does not implement', async () => {
      plain.bucket('xml').putObject('r.md', 'hello');
      const ranged = await raw('/xml/r.md', { headers: { range: 'bytes=0-1' } });
      expect([ranged.status, await ranged.text()]).toEqual([
        501,
        expect.stringContaining('<Code>NotImplemented</Code>'),
      ]);
      expect((await raw('/xml?versions&delimiter=%2F')).status).toBe(501);
      expect((await raw('/xml?list-type=2&encoding-type=url')).status).toBe(501);
      expect((await raw('/xml/r.md?tagging')).status).toBe(501);
    });

    it('If-Match on a missing key: PutObject 404 NoSuchKey, DeleteObject 412', async () => {
      plain.bucket('xml');
      const put = await raw('/xml/gone.md', {
        method: 'PUT',
        body: 'x',
        headers: { 'if-match': '"abc"' },
      });
      expect([put.status, await put.text()]).toEqual([
        404,
        expect.stringContaining('<Code>NoSuchKey</Code>'),
      ]);
      const del = await raw('/xml/gone.md', { method: 'DELETE', headers: { 'if-match': '"abc"' } });
      expect([del.status, await del.text()]).toEqual([
        412,
        expect.stringContaining('<Code>PreconditionFailed</Code>'),
      ]);
    });

    it('answers 409 ConditionalRequestConflict when another write lands during a conditional put', async () => {
      plain.bucket('xml');
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(`${plain.url}/xml/race.md`, {
          method: 'PUT',
          headers: { 'content-length': '10', 'if-none-match': '*' },
        });
        request.on('response', (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => {
            body += chunk.toString();
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on('error', reject);
        request.write('12345');
        waitFor(() => plain.activeRequests === 1, 'the put to be in flight')
          .then(() => fetch(`${plain.url}/xml/race.md`, { method: 'PUT', body: 'teammate' }))
          .then(() => request.end('67890'), reject);
      });
      const { status, body } = await answer;
      expect(status).toBe(409);
      expect(body).toContain('<Code>ConditionalRequestConflict</Code>');
      expect(plain.bucket('xml').current('race.md')?.data?.toString()).toBe('teammate');
    });

    it('answers CORS preflights by its rule and adds CORS headers to answers', async () => {
      plain.bucket('xml').putObject('cors.md', 'hello');
      const preflight = await raw('/xml/cors.md', {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:5173',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'content-type,x-amz-meta-sha256',
        },
      });
      expect(preflight.status).toBe(200);
      expect(
        Object.fromEntries(
          [...preflight.headers].filter(([name]) => name.startsWith('access-control')),
        ),
      ).toEqual({
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, PUT, POST, DELETE, HEAD',
        'access-control-allow-headers': 'content-type,x-amz-meta-sha256',
        // What docs/browser.md tells users to expose: syncjournal reads all of these.
        'access-control-expose-headers':
          'ETag, x-amz-meta-sha256, x-amz-version-id, x-amz-delete-marker',
      });
      const refused = await raw('/xml/cors.md', {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'PATCH' },
      });
      expect(refused.status).toBe(403);
      const get = await raw('/xml/cors.md', { headers: { origin: 'http://localhost:5173' } });
      expect(get.headers.get('access-control-allow-origin')).toBe('*');
      expect(get.headers.get('access-control-expose-headers')).toBe(
        'ETag, x-amz-meta-sha256, x-amz-version-id, x-amz-delete-marker',
      );
    });

    it('answers a GET of a delete marker version with 405', async () => {
      const v = await store('marker-get/', { versioned: true });
      await v.put('a.md', bytes('one'), { sha256: sha256Hex('one') });
      const { versionId } = await v.delete('a.md');
      await expect(
        versionedClient.send(
          new GetObjectCommand({ Bucket: 'bkt', Key: 'marker-get/a.md', VersionId: versionId }),
        ),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 405 } });
    });
  });
});

function expectSame(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected))).toBe(0);
}
