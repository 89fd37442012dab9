/** Builds the notes demo once for the end-to-end tests (each file serves the build). */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { demoViteConfig } from '../demo/demo-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    demoDir: string;
  }
}

export default async function setup(project: TestProject) {
  const outDir = fileURLToPath(new URL('../dist/demo-e2e', import.meta.url));
  await build({ ...demoViteConfig({ outDir }), configFile: false, logLevel: 'error' });
  project.provide('demoDir', outDir);
}
