import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { firstContactError, S3StoreError } from '@syncjournal/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../src/s3-store.js';
import { type S3rverProcess, startS3rver } from '../test-support/s3-s3rver-process.js';
import { cli, scratch } from './cli-harness.js';

/** A port on 127.0.0.1 that nothing listens on: one just opened and closed again. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** The store at `url` as the CLI makes it: configured from `env` alone. */
async function firstContact(url: string, env: Record<string, string>): Promise<unknown> {
  const store = await S3Store.fromUrl(url, { env });
  try {
    await store.detectCapabilities();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    store.close();
  }
}

describe('the first contact with a bucket that cannot be used says why, in one sentence', () => {
  let s3rver: S3rverProcess;
  beforeAll(async () => {
    s3rver = await startS3rver({ buckets: ['notes'] });
  });
  afterAll(() => s3rver.stop());
  const env = (overrides: Record<string, string> = {}) => ({
    AWS_ENDPOINT_URL: s3rver.url,
    AWS_REGION: 'us-east-1',
    SYNCJOURNAL_S3_FORCE_PATH_STYLE: '1',
    AWS_ACCESS_KEY_ID: s3rver.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3rver.credentials.secretAccessKey,
    ...overrides,
  });

  it('opens a bucket that exists with the right key (the control)', async () => {
    expect(await firstContact('s3://notes/team', env())).toBeUndefined();
  });

  it('a bucket that does not exist', async () => {
    const error = await firstContact('s3://no-such-notes/team', env());
    expect(error).toBeInstanceOf(S3StoreError);
    expect(error).toMatchObject({ code: 's3-no-such-bucket', data: { bucket: 'no-such-notes' } });
    expect((error as Error).message).toMatch(
      /^The bucket no-such-notes does not exist on this server\. Nothing was read or written\. Check the bucket name/,
    );
  });

  it('a key the server does not know', async () => {
    // s3rver checks the access key id; it accepts any secret, so a wrong secret cannot
    // be shown here (AWS answers it with 403 SignatureDoesNotMatch, mapped the same way).
    const error = await firstContact('s3://notes/team', env({ AWS_ACCESS_KEY_ID: 'NOT-A-KEY' }));
    expect(error).toMatchObject({ code: 's3-access-denied', data: { status: 403 } });
    expect((error as Error).message).toMatch(
      /^The server refused access to s3:\/\/notes\/team\/ \(InvalidAccessKeyId: .*\)\. Nothing was read or written\. Check AWS_ACCESS_KEY_ID/,
    );
  });

  it('no server at the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const error = await firstContact('s3://notes/team', env({ AWS_ENDPOINT_URL: endpoint }));
    expect(error).toMatchObject({ code: 's3-unreachable' });
    expect((error as Error).message).toMatch(
      /^Could not reach the server of s3:\/\/notes\/team\/ \(.*ECONNREFUSED.*\)\. Nothing was read or written\. Check the endpoint/,
    );
  });

  it('a host name made of the bucket and the endpoint points at path-style addressing', () => {
    // Node's own error for a name that does not resolve, as a virtual-hosted request to a
    // local server gets it (whether this machine's resolver answers ENOTFOUND or
    // EAI_AGAIN for such a name depends on its network, so it is built here).
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND notes.minio.local'), {
      code: 'ENOTFOUND',
    });
    const error = firstContactError(dns, { bucket: 'notes', url: 's3://notes/' });
    expect(error).toMatchObject({ code: 's3-unreachable', cause: dns });
    expect((error as Error).message).toMatch(/set SYNCJOURNAL_S3_FORCE_PATH_STYLE=1\.$/);
    const other = Object.assign(new Error('getaddrinfo ENOTFOUND minio.local'), {
      code: 'ENOTFOUND',
    });
    expect(
      (firstContactError(other, { bucket: 'notes', url: 's3://notes/' }) as Error).message,
    ).toMatch(/Check the endpoint \(AWS_ENDPOINT_URL\) and the network, then try again\.$/);
    // Anything else is the caller's to handle, unchanged.
    const unknown = new Error('something else');
    expect(firstContactError(unknown, { bucket: 'notes', url: 's3://notes/' })).toBe(unknown);
  });

  it('through the CLI: no credentials at all, and a new pair is not remembered', async () => {
    const s = await scratch();
    try {
      await s.write(s.path('notes/a.md'), 'a');
      const run = await cli(
        ['--state-dir', s.path('state'), 'sync', s.path('notes'), 's3://notes/team'],
        {
          env: {
            AWS_ENDPOINT_URL: s3rver.url,
            AWS_REGION: 'us-east-1',
            SYNCJOURNAL_S3_FORCE_PATH_STYLE: '1',
            AWS_ACCESS_KEY_ID: '',
            AWS_SECRET_ACCESS_KEY: '',
            AWS_PROFILE: '',
            AWS_SHARED_CREDENTIALS_FILE: s.path('no-credentials'),
            AWS_CONFIG_FILE: s.path('no-config'),
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        },
      );
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(
        /No credentials were found for s3:\/\/notes\/team\/ \(.*\)\. Nothing was read or written\. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
      );
      expect(run.stderr).not.toMatch(/--verbose/);
      const config = JSON.parse(await readFile(s.path('state/config.json'), 'utf8'));
      expect(config.pairs).toEqual([]);
      expect(await s.tree(s.path('notes'))).toEqual({ 'a.md': 'a' });
    } finally {
      await s.cleanup();
    }
  });
});
