import type { Hasher, HashState } from '@syncjournal/core';
import { createSHA256, type IHasher } from 'hash-wasm';

/**
 * SHA-256 in the browser. Streaming goes through hash-wasm (WebAssembly, synchronous
 * once loaded, as the journal's hash chain needs): one wasm instance serves every hash
 * in progress by saving and restoring each one's state around its updates. Bytes
 * already in memory go to WebCrypto's `subtle.digest`, several times faster; the
 * scanner uses it for files that fit comfortably in memory.
 */
export async function createWebHasher(): Promise<Hasher> {
  const wasm = await createSHA256();
  const subtle = globalThis.crypto?.subtle;
  return {
    create: () => new WasmState(wasm),
    ...(subtle
      ? {
          digestBytes: async (data: Uint8Array) =>
            hex(new Uint8Array(await subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>))),
        }
      : {}),
  };
}

class WasmState implements HashState {
  #saved: Uint8Array;
  readonly #wasm: IHasher;

  constructor(wasm: IHasher) {
    this.#wasm = wasm;
    wasm.init();
    this.#saved = wasm.save();
  }

  update(data: Uint8Array | string): void {
    this.#wasm.load(this.#saved);
    this.#wasm.update(data);
    this.#saved = this.#wasm.save();
  }

  digest(): string {
    this.#wasm.load(this.#saved);
    return this.#wasm.digest('hex');
  }
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
