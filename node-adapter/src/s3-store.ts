import { S3Store as BaseS3Store, parseS3Url, type S3StoreOptions } from '@syncjournal/s3';
import { nodeHasher } from './node-hasher.js';

export * from '@syncjournal/s3';

/** Options of the Node {@link S3Store}: as `@syncjournal/s3`'s, with node:crypto's SHA-256 by default. */
export type NodeS3StoreOptions = Omit<S3StoreOptions, 'hasher'> &
  Partial<Pick<S3StoreOptions, 'hasher'>>;

/** The S3 store with Node's SHA-256 (node:crypto) unless another hasher is given. */
export class S3Store extends BaseS3Store {
  constructor(location: { bucket: string; prefix: string }, options: NodeS3StoreOptions = {}) {
    super(location, { hasher: nodeHasher, ...options });
  }

  static override async fromUrl(url: string, options: NodeS3StoreOptions = {}): Promise<S3Store> {
    return new S3Store(parseS3Url(url), options);
  }
}
