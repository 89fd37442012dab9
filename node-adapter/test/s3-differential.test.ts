import { createHash } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { comparePaths, type RemoteObject } from '@syncjournal/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../src/s3-store.js';
import { type S3rverProcess, startS3rver } from '../test-support/s3-s3rver-process.js';
import { s3TestClient } from '../test-support/s3-test-client.js';
import { type S3TestServer, startS3TestServer } from '../test-support/s3-test-server.js';

/**
 * The same operations through S3Store against s3rver 3.7.1 (a third-party server, as
 * it ships: no listing patch) and against the S3 test server, comparing everything
 * the client sees on the subset both implement: keys, sizes, ETags, the SHA-256 from
 * head, bodies, listing order and page boundaries, and not-found behaviour.
 *
 * Documented differences, which the comparison leaves out and the last block pins:
 * - the ETag of a multipart upload: AWS and the test server give
 *   `"<md5 of the part md5s>-<parts>"`, s3rver the MD5 of the whole body;
 * - s3rver lists depth first by directory (`a/b.md` before `a-b.md`) and loses keys
 *   across pages after such a misordering, so the shared keys avoid a directory with a
 *   sibling name that continues with a character below `/`, and characters in
 *   U+E000–U+FFFF;
 * - s3rver decodes `x-amz-copy-source` with decodeURI, so it cannot copy keys with
 *   `; , ? : @ & = + $ #`: the shared copies avoid them;
 * - s3rver refuses keys with an empty segment (`a//b.md`);
 * - s3rver ignores `If-None-Match`/`If-Match` (S3Store detects that and sends none),
 *   ignores `versionId` and keeps no versions.
 */

const PREFIX = 'team notes/ü/';

/** Keys both servers store and list alike; every one needs URL encoding or sorts unusually. */
const KEYS = [
  'README.md',
  'Zebra.md',
  'z.md',
  'back\\slash.md',
  'dollar$at@colon:eq=.md',
  'notes/a b.md',
  'notes/plus+sign.md',
  'notes/percent%20literal.md',
  'notes/query?x=1&y=2.md',
  'notes/hash#tag.md',
  'notes/semi;colon,comma.md',
  'notes/quote\'"<>.md',
  'notes/tilde~star*paren().md',
  'notes/brackets[1]{2}.md',
  'notes/ünïcødé.md',
  'notes/файл.md',
  'notes/日本語.md',
  'notes/😀.md',
  'notes/deep/er/path.md',
] as const;

/** Copies whose source keys s3rver can decode. */
const COPIES: readonly [string, string][] = [
  ['README.md', 'trash/README.md'],
  ['notes/a b.md', 'trash/a b.md'],
  ['notes/ünïcødé.md', 'trash/ünïcødé.md'],
  ['notes/日本語.md', 'notes/deep/copy of 日本語.md'],
];

const bytes = (text: string) => new TextEncoder().encode(text);
const sha256Hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function patternBytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + (i >> 9)) & 0xff);
}

const tuning = { pageSize: 2, multipartThreshold: 256 * 1024, partSize: 100 * 1024 };

/** What a client can compare of an object: everything but the time. */
function seen(object: RemoteObject | undefined) {
  if (!object) return 'missing';
  return {
    key: object.key,
    size: object.size,
    etag: object.etag,
    versionId: object.versionId ?? null,
    sha256: object.sha256 ?? null,
  };
}

function errorCode(error: unknown): string {
  const e = error as { code?: string; name?: string };
  return e.code ?? e.name ?? 'error';
}

/** Every page of a listing, as the keys, sizes and ETags on each page. */
async function pages(store: S3Store) {
  const out: { key: string; size: number; etag: string }[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(cursor);
    out.push(page.objects.map(({ key, size, etag }) => ({ key, size, etag })));
    cursor = page.next ?? undefined;
  } while (cursor !== undefined);
  return out;
}

/** Runs the shared script and returns what the client saw at each step. */
async function runScript(store: S3Store): Promise<{ steps: unknown[]; multipartEtag: string }> {
  const steps: unknown[] = [];
  const step = async (name: string, action: () => Promise<unknown>) => {
    try {
      steps.push({ step: name, result: await action() });
    } catch (error) {
      steps.push({ step: name, error: errorCode(error) });
    }
  };
  const text = (key: string, round = 1) => bytes(`round ${round} of ${key}\n`);
  const put = (key: string, data: Uint8Array) =>
    store.put(key, data, { sha256: sha256Hex(data) }).then(seen);
  const read = async (key: string) => {
    const { object, body } = await store.get(key);
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const data = Buffer.concat(chunks);
    return { object: seen(object), length: data.byteLength, sha256: sha256Hex(data) };
  };

  for (const key of [...KEYS].reverse()) await step(`put ${key}`, () => put(key, text(key)));
  await step('list', () => pages(store));
  for (const key of KEYS) {
    await step(`head ${key}`, async () => seen(await store.head(key)));
    await step(`get ${key}`, () => read(key));
  }
  for (const key of ['README.md', 'notes/😀.md', 'notes/query?x=1&y=2.md']) {
    await step(`overwrite ${key}`, () => put(key, text(key, 2)));
    await step(`head ${key} again`, async () => seen(await store.head(key)));
  }
  await step('rewrite the same bytes', () => put('z.md', text('z.md')));
  for (const key of ['Zebra.md', 'notes/hash#tag.md', 'notes/deep/er/path.md']) {
    await step(`delete ${key}`, () => store.delete(key));
    await step(`head deleted ${key}`, async () => seen(await store.head(key)));
    await step(`get deleted ${key}`, () => read(key));
    await step(`delete missing ${key}`, () => store.delete(key));
  }
  for (const [from, to] of COPIES) {
    await step(`copy ${from}`, async () => seen(await store.copy(from, to)));
    await step(`head copy ${to}`, async () => seen(await store.head(to)));
  }
  await step('copy missing', () => store.copy('no such.md', 'trash/no such.md'));
  await step('put empty', () => put('empty.md', new Uint8Array()));
  await step('get empty', () => read('empty.md'));
  const big = patternBytes(300_000);
  let multipartEtag = '';
  await step('put multipart', async () => {
    const object = await store.put('big/file.bin', big, { sha256: sha256Hex(big) });
    multipartEtag = object.etag;
    return seen(object);
  });
  await step('get multipart', () => read('big/file.bin'));
  await step('list at the end', () => pages(store));
  return { steps, multipartEtag };
}

describe('S3Store against s3rver and the S3 test server: the same script, the same answers', () => {
  let s3rver: S3rverProcess;
  let server: S3TestServer;
  let s3rverClient: S3Client;
  let serverClient: S3Client;
  beforeAll(async () => {
    [s3rver, server] = await Promise.all([
      startS3rver({ buckets: ['diff'] }),
      startS3TestServer({ minPartSize: 64 * 1024 }),
    ]);
    server.bucket('diff');
    s3rverClient = s3TestClient(s3rver.url, s3rver.credentials);
    serverClient = s3TestClient(server.url);
  });
  afterAll(async () => {
    s3rverClient?.destroy();
    serverClient?.destroy();
    await Promise.all([s3rver?.stop(), server?.stop()]);
  });
  const stores = async (prefix: string) => {
    const onS3rver = await S3Store.fromUrl(`s3://diff/${prefix}`, {
      client: s3rverClient,
      ...tuning,
    });
    const onServer = await S3Store.fromUrl(`s3://diff/${prefix}`, {
      client: serverClient,
      ...tuning,
    });
    await Promise.all([onS3rver.detectCapabilities(), onServer.detectCapabilities()]);
    return { onS3rver, onServer };
  };

  it('sees the same keys, sizes, ETags, SHA-256s, bodies, pages and misses', async () => {
    const { onS3rver, onServer } = await stores(PREFIX);
    const fromS3rver = await runScript(onS3rver);
    const fromServer = await runScript(onServer);

    // The documented difference: the multipart ETag's form.
    expect(fromServer.multipartEtag).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(fromS3rver.multipartEtag).toMatch(/^"[0-9a-f]{32}"$/);
    const normalise = (run: { steps: unknown[]; multipartEtag: string }) =>
      JSON.parse(
        JSON.stringify(run.steps).replaceAll(run.multipartEtag.replaceAll('"', '\\"'), 'MULTIPART'),
      );
    expect(normalise(fromS3rver)).toEqual(normalise(fromServer));

    // And both are right, not just alike: the final listing is the model's, in order.
    const deleted = ['Zebra.md', 'notes/hash#tag.md', 'notes/deep/er/path.md'];
    const expected = [
      ...KEYS.filter((key) => !deleted.includes(key)),
      ...COPIES.map(([, to]) => to),
      'empty.md',
      'big/file.bin',
    ].sort(comparePaths);
    const final = fromServer.steps.at(-1) as { result: { key: string }[][] };
    expect(final.result.flat().map((o) => o.key)).toEqual(expected);
    expect(final.result.slice(0, -1).every((page) => page.length === 2)).toBe(true);
    const failed = (fromServer.steps as { step: string; error?: string }[]).filter((s) => s.error);
    expect(failed.map((s) => [s.step, s.error])).toEqual([
      ['get deleted Zebra.md', 'not-found'],
      ['get deleted notes/hash#tag.md', 'not-found'],
      ['get deleted notes/deep/er/path.md', 'not-found'],
      ['copy missing', 'not-found'],
    ]);
    expect(fromServer.steps).toHaveLength(
      KEYS.length * 3 + 1 + 6 + 1 + 12 + COPIES.length * 2 + 1 + 4 + 1,
    );
  });

  it('rolls keys up into common prefixes with a delimiter, and pages through them as AWS does', async () => {
    const keys = ['a.md', 'd/1.md', 'd/2.md', 'd/e/3.md', 'f.md', 'g/4.md', 'h.md'];
    for (const client of [s3rverClient, serverClient]) {
      for (const key of keys) {
        await client.send(
          new PutObjectCommand({ Bucket: 'diff', Key: `delim/${key}`, Body: bytes(key) }),
        );
      }
    }
    const listAll = async (client: S3Client, maxKeys: number) => {
      const pages: { keys: string[]; prefixes: string[] }[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: 'diff',
            Prefix: 'delim/',
            Delimiter: '/',
            MaxKeys: maxKeys,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        pages.push({
          keys: (page.Contents ?? []).map((o) => o.Key!),
          prefixes: (page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return pages;
    };
    // One page: both servers agree.
    const whole = {
      keys: ['delim/a.md', 'delim/f.md', 'delim/h.md'],
      prefixes: ['delim/d/', 'delim/g/'],
    };
    expect(await listAll(s3rverClient, 1000)).toEqual([whole]);
    expect(await listAll(serverClient, 1000)).toEqual([whole]);
    // Pages of two: AWS counts a common prefix as one entry toward max-keys and never
    // repeats it on a later page (s3rver's listing does not page prefixes; not compared).
    expect(await listAll(serverClient, 2)).toEqual([
      { keys: ['delim/a.md'], prefixes: ['delim/d/'] },
      { keys: ['delim/f.md'], prefixes: ['delim/g/'] },
      { keys: ['delim/h.md'], prefixes: [] },
    ]);
  });

  describe('where s3rver differs (pinned, so a change shows)', () => {
    it('lists a/b.md before a-b.md and drops keys across pages; S3Store refuses what it can see', async () => {
      const { onS3rver, onServer } = await stores('order/');
      const keys = ['a-b.md', 'a/b.md', 'a/c/d.md', 'a0.md'];
      for (const store of [onS3rver, onServer]) {
        for (const key of keys) await store.put(key, bytes('x'), { sha256: sha256Hex(bytes('x')) });
      }
      expect((await pages(onServer)).map((page) => page.map((o) => o.key))).toEqual([
        ['a-b.md', 'a/b.md'],
        ['a/c/d.md', 'a0.md'],
      ]);
      // Two keys a page: the first page ends inside a/, and a-b.md never comes.
      expect((await pages(onS3rver)).map((page) => page.map((o) => o.key))).toEqual([
        ['a/b.md', 'a/c/d.md'],
        ['a0.md'],
      ]);
      // One page: the misordering is visible, and the listing fails instead of passing.
      const wholePage = await S3Store.fromUrl('s3://diff/order/', { client: s3rverClient });
      await expect(wholePage.list()).rejects.toMatchObject({ code: 's3-unexpected-response' });
    });

    it('cannot copy keys with reserved characters, or store keys with an empty segment', async () => {
      const { onS3rver, onServer } = await stores('reserved/');
      for (const store of [onS3rver, onServer]) {
        await store.put('a+b.md', bytes('x'), { sha256: sha256Hex(bytes('x')) });
      }
      expect(seen(await onServer.copy('a+b.md', 'copy.md'))).toMatchObject({ size: 1 });
      await expect(onS3rver.copy('a+b.md', 'copy.md')).rejects.toMatchObject({ code: 'not-found' });
      await expect(
        onServer.put('a//b.md', bytes('x'), { sha256: sha256Hex(bytes('x')) }),
      ).resolves.toMatchObject({ key: 'a//b.md' });
      await expect(
        onS3rver.put('a//b.md', bytes('x'), { sha256: sha256Hex(bytes('x')) }),
      ).rejects.toThrow();
    });

    it('ignores If-None-Match where the test server refuses it with 412', async () => {
      const put = (client: S3Client) =>
        client.send(
          new PutObjectCommand({
            Bucket: 'diff',
            Key: 'conditions/a.md',
            Body: bytes('x'),
            IfNoneMatch: '*',
          }),
        );
      await put(s3rverClient);
      await expect(put(s3rverClient)).resolves.toBeDefined();
      await put(serverClient);
      await expect(put(serverClient)).rejects.toMatchObject({ name: 'PreconditionFailed' });
      const { onS3rver, onServer } = await stores('conditions/');
      expect([
        onS3rver.capabilities.conditionalWrites,
        onServer.capabilities.conditionalWrites,
      ]).toEqual([false, true]);
    });
  });
});
