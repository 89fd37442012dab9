/**
 * Global setup of the browser tests: the S3 test server (with the CORS rule the
 * browser needs, see docs/providers.md) on 127.0.0.1, for the S3 store in Chromium;
 * and the property budget from the environment (SYNCJOURNAL_PROPERTY_RUNS and
 * SYNCJOURNAL_PROPERTY_SEED, as the property suite reads them), which a page cannot read.
 */
import type { TestProject } from 'vitest/node';
import {
  type S3TestServer,
  startS3TestServer,
} from '../../node-adapter/test-support/s3-test-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string;
    s3VersionedEndpoint: string;
    /** The environment's SYNCJOURNAL_PROPERTY_RUNS, or ''. */
    propertyRuns: string;
    /** The environment's SYNCJOURNAL_PROPERTY_SEED, or ''. */
    propertySeed: string;
  }
}

export default async function setup(project: TestProject) {
  const servers: S3TestServer[] = [];
  for (const versioning of [false, true]) {
    const server = await startS3TestServer({ versioning });
    server.bucket('browser');
    servers.push(server);
  }
  project.provide('s3Endpoint', servers[0]!.url);
  project.provide('s3VersionedEndpoint', servers[1]!.url);
  project.provide('propertyRuns', process.env.SYNCJOURNAL_PROPERTY_RUNS ?? '');
  project.provide('propertySeed', process.env.SYNCJOURNAL_PROPERTY_SEED ?? '');
  return async () => {
    for (const server of servers) await server.stop();
  };
}
