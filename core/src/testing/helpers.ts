import { expect } from 'vitest';
import { collectBytes, decodeUtf8, encodeUtf8 } from '../memory/bytes.js';
import type { ObjectStore } from '../ports/store.js';
import type { LocalTree, WalkItem } from '../ports/tree.js';

/** UTF-8 bytes of `text`. */
export const utf8 = encodeUtf8;

/** Every item of a walk, in the order the tree yielded them. */
export async function walkAll(tree: LocalTree): Promise<WalkItem[]> {
  const items: WalkItem[] = [];
  for await (const item of tree.walk()) items.push(item);
  return items;
}

/** The paths of the walk's `file` items, in walk order. */
export async function walkedFiles(tree: LocalTree): Promise<string[]> {
  return (await walkAll(tree)).filter((item) => item.kind === 'file').map((item) => item.path);
}

/**
 * A file's text. `tree.read` runs inside this async function so that a tree which
 * throws synchronously and one that throws while streaming are judged alike.
 */
export async function readText(tree: LocalTree, path: string): Promise<string> {
  return decodeUtf8(await collectBytes(tree.read(path)));
}

/** A file's bytes; see {@link readText}. */
export async function readBytes(tree: LocalTree, path: string): Promise<Uint8Array> {
  return collectBytes(tree.read(path));
}

/** An object's text; see {@link readText}. */
export async function getText(
  store: ObjectStore,
  key: string,
  options?: { versionId?: string; snapshot?: string },
): Promise<string> {
  const { body } = await store.get(key, options);
  return decodeUtf8(await collectBytes(body));
}

/**
 * Asserts that `action` fails with a syncjournal error of `code`. Codes, not classes,
 * are the contract: an error that crossed a worker boundary is rebuilt from JSON.
 */
export async function expectCode(action: () => Promise<unknown>, code: string): Promise<void> {
  await expect(action()).rejects.toMatchObject({ code });
}

/** Streams `data` in `parts` chunks, to check that writers accept real streams. */
export async function* inChunks(data: Uint8Array, parts: number): AsyncIterable<Uint8Array> {
  const size = Math.ceil(data.length / parts);
  for (let offset = 0; offset < data.length; offset += size) {
    yield data.slice(offset, offset + size);
  }
}

/**
 * Asserts that two byte arrays are equal. Deep equality is slow on large arrays and
 * prints them whole; this reports the length and the first differing offset.
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  let firstDifference = -1;
  for (let i = 0; i < expected.length && firstDifference < 0; i++) {
    if (actual[i] !== expected[i]) firstDifference = i;
  }
  expect(firstDifference, 'offset of the first differing byte').toBe(-1);
}

/** Deterministic bytes covering every byte value, for binary round trips. */
export function patternBytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
}

/**
 * Paths whose walk/list order trips up naive sorts: `-` < `/` < `0` around a
 * directory, upper before lower case, and a character above U+FFFF after one just
 * below it (UTF-16 order would swap them). Listed here in the expected order; no
 * two differ only by case, so case-insensitive trees can hold them all.
 */
export const ORDERED_PATHS: readonly string[] = [
  'B.md',
  'a-b.md',
  'a/b.md',
  'a/c/d.md',
  'a0.md',
  'z.md',
  '\uff21.md',
  '\u{1f600}.md',
];

/** The same paths in an order no sort would produce, to write them in. */
export const SHUFFLED_PATHS: readonly string[] = [4, 7, 1, 5, 0, 3, 6, 2].map(
  (i) => ORDERED_PATHS[i] as string,
);
