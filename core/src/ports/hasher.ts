/**
 * Content identity in syncjournal is the SHA-256 of a file's bytes, written as 64
 * lowercase hex characters. Every platform must produce the same digest for the same
 * bytes (a shared test vector checks it).
 */
export interface Hasher {
  /**
   * Starts a streaming SHA-256. Feeding the same bytes in any chunking gives the same
   * digest. A string is hashed as its UTF-8 encoding.
   */
  create(): HashState;
  /**
   * Optional: the digest of bytes already in memory, where the platform has a faster
   * one-shot hash than its streaming one (WebCrypto in the browser). Must equal the
   * streaming digest of the same bytes. The scanner uses it for files that fit
   * comfortably in memory.
   */
  digestBytes?(data: Uint8Array): Promise<string>;
}

/** One streaming hash computation; `digest()` ends it. */
export interface HashState {
  update(data: Uint8Array | string): void;
  /** Lowercase hex; the state must not be used afterwards. */
  digest(): string;
}

/** SHA-256 of nothing, the identity of an empty file. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Hashes a stream of chunks (a file being read, an object being downloaded). */
export async function hashStream(
  hasher: Hasher,
  source: AsyncIterable<Uint8Array>,
): Promise<string> {
  const state = hasher.create();
  for await (const chunk of source) state.update(chunk);
  return state.digest();
}

/** Hashes a whole value at once with a streaming {@link Hasher}. */
export function hashOf(hasher: Hasher, ...parts: Array<Uint8Array | string>): string {
  const state = hasher.create();
  for (const part of parts) state.update(part);
  return state.digest();
}
