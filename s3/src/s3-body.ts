import {
  type BodySource,
  concatBytes,
  type Hasher,
  type HashState,
  PreconditionFailedError,
} from '@syncjournal/core';
import { S3StoreError } from './s3-errors.js';

/** The byte length a body declares. */
export function declaredSize(body: BodySource): number {
  return body instanceof Uint8Array ? body.byteLength : body.size;
}

/**
 * Cuts a body into parts of `partSize` bytes (the last one shorter), hashing what it
 * reads. A body held in memory is sliced without copying; a streamed one is read
 * into one buffer per part, so memory stays at a part per part in flight.
 *
 * When the source ends, {@link BodyDigest.finish} checks that it had exactly the
 * declared size and the declared SHA-256: a source that changed after it was hashed
 * (a file edited during the upload) throws `PreconditionFailedError` on the local
 * side, so a wrong digest is never recorded with the object.
 */
export async function* partsOf(
  key: string,
  body: BodySource,
  partSize: number,
  digest: BodyDigest,
): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    for (let offset = 0; offset < body.byteLength || offset === 0; offset += partSize) {
      const part = body.subarray(offset, Math.min(offset + partSize, body.byteLength));
      digest.update(part);
      yield part;
      if (body.byteLength === 0) break;
    }
    return;
  }
  let buffer = new Uint8Array(Math.min(partSize, Math.max(body.size, 1)));
  let filled = 0;
  for await (const chunk of body.open()) {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (digest.bytes + chunk.byteLength - offset > body.size) {
        throw digest.sizeMismatch(key, `more than ${body.size}`);
      }
      const take = Math.min(buffer.byteLength - filled, chunk.byteLength - offset);
      const piece = chunk.subarray(offset, offset + take);
      buffer.set(piece, filled);
      digest.update(piece);
      filled += take;
      offset += take;
      if (filled === buffer.byteLength && digest.bytes < body.size) {
        yield buffer;
        buffer = new Uint8Array(Math.min(partSize, body.size - digest.bytes));
        filled = 0;
      }
    }
  }
  if (filled > 0 || digest.bytes === 0) yield buffer.subarray(0, filled);
}

/** Reads a whole body into memory (bodies below the multipart threshold). */
export async function wholeBody(
  key: string,
  body: BodySource,
  digest: BodyDigest,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of partsOf(key, body, Math.max(declaredSize(body), 1), digest)) {
    parts.push(part);
  }
  return parts.length === 1 && parts[0] ? parts[0] : concatBytes(parts);
}

/** The running SHA-256 and length of a body as it is read, checked against what the put declared. */
export class BodyDigest {
  readonly #hash: HashState;
  #bytes = 0;
  #digest: string | undefined;

  constructor(
    readonly declaredSize: number,
    readonly declaredSha256: string,
    hasher: Hasher,
  ) {
    this.#hash = hasher.create();
  }

  /** Bytes read so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds bytes that were read. */
  update(data: Uint8Array): void {
    this.#hash.update(data);
    this.#bytes += data.byteLength;
  }

  /** The SHA-256 of what was read, as base64 (the checksum header's form), after checking size and digest. */
  finish(key: string): string {
    if (this.#bytes !== this.declaredSize) throw this.sizeMismatch(key, `only ${this.#bytes}`);
    this.#digest ??= this.#hash.digest();
    const actual = this.#digest;
    if (actual !== this.declaredSha256.toLowerCase()) {
      throw new PreconditionFailedError(
        'local',
        key,
        `its bytes hash to ${actual}, not the planned ${this.declaredSha256}; nothing was uploaded`,
      );
    }
    return hexToBase64(actual);
  }

  /** The error for a body whose length is not the declared one (`found`: what it had). */
  sizeMismatch(key: string, found: string): PreconditionFailedError {
    return new PreconditionFailedError(
      'local',
      key,
      `the body had ${found} bytes where ${this.declaredSize} were declared; nothing was uploaded`,
    );
  }
}

/**
 * A response body as the port's `AsyncIterable<Uint8Array>`: plain `Uint8Array`
 * views (not Buffers), and a body that ends short of its `Content-Length` throws
 * instead of passing for a complete file.
 */
export async function* responseBody(
  source: AsyncIterable<Uint8Array>,
  expectedLength: number | undefined,
  key: string,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  for await (const chunk of source) {
    received += chunk.byteLength;
    yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (expectedLength !== undefined && received !== expectedLength) {
    throw new S3StoreError(
      's3-unexpected-response',
      `The download of ${key} ended after ${received} of ${expectedLength} bytes. Nothing was written locally from it; the next sync downloads it again.`,
      { key, received, expectedLength },
    );
  }
}

/** `ab12…` (hex) → the same bytes as base64. */
export function hexToBase64(hex: string): string {
  let binary = '';
  for (let i = 0; i < hex.length; i += 2)
    binary += String.fromCharCode(Number.parseInt(hex.slice(i, i + 2), 16));
  return btoa(binary);
}
