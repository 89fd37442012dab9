/**
 * Byte helpers for the in-memory adapters and the conformance suites. core has no
 * `TextEncoder` in its type environment (no DOM lib, no Node types), so UTF-8 is
 * done by hand here.
 */

/** The UTF-8 encoding of `text`; a lone surrogate becomes U+FFFD, as `TextEncoder` does. */
export function encodeUtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000)
      out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      out.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 0x3f),
        0x80 | ((cp >> 6) & 0x3f),
        0x80 | (cp & 0x3f),
      );
  }
  return Uint8Array.from(out);
}

/** Decodes UTF-8; malformed sequences become U+FFFD, as a non-fatal `TextDecoder` does. */
export function decodeUtf8(bytes: Uint8Array): string {
  let text = '';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i] ?? 0;
    const [length, min, initial] =
      b0 < 0x80
        ? [1, 0, b0]
        : b0 >= 0xc2 && b0 < 0xe0
          ? [2, 0x80, b0 & 0x1f]
          : b0 >= 0xe0 && b0 < 0xf0
            ? [3, 0x800, b0 & 0x0f]
            : b0 >= 0xf0 && b0 < 0xf5
              ? [4, 0x10000, b0 & 0x07]
              : [0, 0, 0];
    let cp = initial;
    let ok = length > 0 && i + length <= bytes.length;
    for (let k = 1; ok && k < length; k++) {
      const b = bytes[i + k] ?? 0;
      if ((b & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (b & 0x3f);
    }
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (!ok) {
      text += '\ufffd';
      i += 1;
      continue;
    }
    text += String.fromCodePoint(cp);
    i += length;
  }
  return text;
}

/** The bytes of `chunks`, joined. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Reads a whole byte stream into one array (a copy, never an alias of a chunk). */
export async function collectBytes(
  source: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source.slice();
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return concatBytes(chunks);
}

/** Yields `data` in chunks of at most `chunkSize` bytes, so callers see real streaming. */
export async function* chunksOf(
  data: Uint8Array,
  chunkSize = 64 * 1024,
): AsyncIterable<Uint8Array> {
  if (data.length === 0) return;
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    yield data.slice(offset, offset + chunkSize);
  }
}

/** True when both arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
