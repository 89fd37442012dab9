/**
 * A content-derived ETag, as S3 gives for single-part uploads (there an MD5): equal
 * bytes give equal ETags, so rewriting an object with the same content keeps its
 * ETag. 64-bit FNV-1a is enough to tell test contents apart and needs no crypto.
 */
export function contentEtag(data: Uint8Array): string {
  return `"${fnv1a64Hex(data)}"`;
}

/** 64-bit FNV-1a of `data` as 16 lowercase hex digits. */
export function fnv1a64Hex(data: Uint8Array): string {
  // The 64-bit state is kept as two 32-bit halves; multiplying by the FNV prime
  // 2^40 + 0x1b3 is `h * 0x1b3 + (h << 40)`, and `h << 40` only reaches the high half.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of data) {
    lo = (lo ^ byte) >>> 0;
    const low = lo * 0x1b3;
    const high = hi * 0x1b3 + Math.floor(low / 0x1_0000_0000) + ((lo << 8) >>> 0);
    lo = low >>> 0;
    hi = high >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
