import type { ObjectStore, PutOptions, RemoteObject } from '../ports/store.js';
import { utf8 } from './helpers.js';

/** The test contents and their SHA-256, so puts record true digests without a hasher. */
export const CONTENT_SHA256: Readonly<Record<string, string>> = {
  '': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  hello: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
  'hello, world': '09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b',
  one: '7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed',
  two: '3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3',
  three: '8b5b9db0c13db24256c829aa364aa90c6d2eba318b9232a4ab9313b954d3555f',
  x: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
};

/** 100,000 bytes ('abcdefghij' ten thousand times) and their SHA-256. */
export const LARGE = {
  text: 'abcdefghij'.repeat(10_000),
  sha256: 'c42e56e9b1236bde39e905b351a6bb4da957f36911b24cfabb81e075fbe3e486',
};

/** Puts `text` with its true SHA-256 and any conditions. */
export function putText(
  store: ObjectStore,
  key: string,
  text: string,
  conditions: Omit<PutOptions, 'sha256'> = {},
): Promise<RemoteObject> {
  const sha256 = CONTENT_SHA256[text];
  if (sha256 === undefined) throw new Error(`no SHA-256 on file for test content "${text}"`);
  return store.put(key, utf8(text), { sha256, ...conditions });
}

/** Every page of a listing, following `next` until the store says it is complete. */
export async function listAll(
  store: ObjectStore,
): Promise<{ pages: RemoteObject[][]; objects: RemoteObject[] }> {
  const pages: RemoteObject[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.list(cursor);
    pages.push(page.objects);
    if (page.next === null) break;
    if (pages.length > 10_000) throw new Error('the listing never completed');
    cursor = page.next;
  }
  return { pages, objects: pages.flat() };
}
