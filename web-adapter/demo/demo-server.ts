/**
 * The notes demo's Vite setup: the app in `demo/`, built with the service worker that
 * lets it start with the network off, and — unless it is given a bucket — the S3 test
 * server on 127.0.0.1 (versioning on, CORS as docs/browser.md asks) with a bucket
 * `notes`. The page learns where the bucket is from `/demo-config.json`.
 */
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, type InlineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import {
  type S3TestServer,
  startS3TestServer,
} from '../../node-adapter/test-support/s3-test-server.js';
import { awsXmlParserWithoutDom } from '../build/aws-xml-parser.js';
import type { DemoConfig } from './demo-config.js';

export interface DemoOptions {
  /** An S3 endpoint that already has the bucket; otherwise the preview starts the S3 test server. */
  endpoint?: string;
  /** The bucket (default `notes`). */
  bucket?: string;
  /** Port of the S3 test server the preview starts (default 9100; 0 for any). */
  s3Port?: number;
  /** Where the build goes (default `web-adapter/dist/demo`). */
  outDir?: string;
}

const root = fileURLToPath(new URL('.', import.meta.url));

/** The Vite config of the demo (used by `vite.config.ts` and by the end-to-end tests). */
export function demoViteConfig(options: DemoOptions = {}): InlineConfig {
  return {
    root,
    resolve: { conditions: ['source', ...defaultClientConditions] },
    plugins: [
      awsXmlParserWithoutDom(),
      demoBackend(options),
      VitePWA({
        registerType: 'autoUpdate',
        injectRegister: 'script',
        manifest: {
          name: 'syncjournal notes',
          short_name: 'notes',
          description: 'Notes that work offline and sync to a bucket.',
          theme_color: '#1f2937',
          icons: [],
        },
        workbox: {
          // The app shell, the worker, and PGlite's wasm and data: everything the page
          // needs to open with the network off.
          globPatterns: ['**/*.{html,js,css,wasm,data,svg}'],
          maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
          navigateFallback: 'index.html',
          navigateFallbackDenylist: [/^\/demo-config\.json/],
          clientsClaim: true,
          skipWaiting: true,
          cleanupOutdatedCaches: true,
        },
      }),
    ],
    worker: { format: 'es', plugins: () => [awsXmlParserWithoutDom()] },
    optimizeDeps: {
      exclude: ['@electric-sql/pglite'],
      rolldownOptions: { plugins: [awsXmlParserWithoutDom()] },
    },
    build: {
      outDir: options.outDir ?? fileURLToPath(new URL('../dist/demo', import.meta.url)),
      emptyOutDir: true,
      target: 'es2022',
      chunkSizeWarningLimit: 4096,
      rolldownOptions: {
        // PGlite's Node code paths (direct eval, node:module) are in its bundle but never
        // run in a browser; say nothing about them.
        onLog(level, log, handler) {
          if (log.code === 'EVAL' || /externalized for browser compatibility/.test(log.message))
            return;
          handler(level, log);
        },
      },
    },
    preview: { host: '127.0.0.1', port: 5173 },
    server: { host: '127.0.0.1', port: 5173 },
  };
}

/** Serves `/demo-config.json`, starting the S3 test server first when no endpoint is given. */
function demoBackend(options: DemoOptions): Plugin {
  const bucket = options.bucket ?? 'notes';
  let s3: S3TestServer | undefined;
  const endpoint = async () => {
    if (options.endpoint) return options.endpoint;
    if (!s3) {
      s3 = await startS3TestServer({ versioning: true, port: options.s3Port ?? 9100 });
      s3.bucket(bucket);
      console.log(
        `S3 test server (versioning on, CORS for any origin): ${s3.url}, bucket ${bucket}`,
      );
    }
    return s3.url;
  };
  const serve = async (server: {
    middlewares: { use(path: string, fn: (req: unknown, res: Res) => void): void };
    httpServer: { on(event: 'close', fn: () => void): unknown } | null;
  }) => {
    const config: DemoConfig = {
      bucket: `s3://${bucket}/`,
      endpoint: await endpoint(),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'syncjournal-demo', secretAccessKey: 'syncjournal-demo' },
    };
    server.httpServer?.on('close', () => void s3?.stop());
    server.middlewares.use('/demo-config.json', (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(JSON.stringify(config));
    });
  };
  return {
    name: 'syncjournal:demo-backend',
    configurePreviewServer: serve,
    configureServer: serve,
  };
}

interface Res {
  setHeader(name: string, value: string): void;
  end(body: string): void;
}
