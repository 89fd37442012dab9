import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * Tigris bucket snapshots over the S3 API. Tigris takes its snapshot parameters as
 * HTTP headers the SDK does not model, so they go on with a build-step middleware
 * (the `$httpOptions` form in Tigris' docs does not send them with SDK v3), and the
 * answers' headers are read with a deserialize-step one.
 */
export const SNAPSHOT_VERSION_HEADER = 'x-tigris-snapshot-version';

/** A command that carries middleware (every SDK command). */
interface WithStack {
  middlewareStack: object;
}

/** The one method of the SDK's middleware stack used here, without its per-step overloads. */
function stackOf(command: WithStack): { add(middleware: unknown, options: object): void } {
  return command.middlewareStack as { add(middleware: unknown, options: object): void };
}

/** Adds a request header to one command. */
export function withHeader<C extends WithStack>(command: C, name: string, value: string): C {
  stackOf(command).add(
    (next: (args: unknown) => Promise<unknown>) =>
      async (args: { request: { headers: Record<string, string> } }) => {
        args.request.headers[name] = value;
        return next(args);
      },
    { step: 'build', name: `syncjournalHeader-${name}` },
  );
  return command;
}

/** Reads a response header of one command once it is sent. */
export function captureHeader(command: WithStack, name: string): () => string | undefined {
  let value: string | undefined;
  stackOf(command).add(
    (next: (args: unknown) => Promise<{ response: { headers?: Record<string, string> } }>) =>
      async (args: unknown) => {
        const result = await next(args);
        const headers = result.response.headers ?? {};
        value = headers[name] ?? headers[name.toLowerCase()];
        return result;
      },
    { step: 'deserialize', name: `syncjournalCapture-${name}`, priority: 'low' },
  );
  return () => value;
}

/** Whether the bucket is snapshot-enabled: Tigris says so on HeadBucket. */
export async function detectSnapshots(client: S3Client, bucket: string): Promise<boolean> {
  const command = new HeadBucketCommand({ Bucket: bucket });
  const enabled = captureHeader(command, 'x-tigris-enable-snapshot');
  try {
    await client.send(command);
  } catch {
    return false;
  }
  return enabled()?.trim().toLowerCase() === 'true';
}

/** Takes a snapshot of the whole bucket and returns its version. */
export async function takeSnapshot(client: S3Client, bucket: string): Promise<string> {
  const command = withHeader(
    new CreateBucketCommand({ Bucket: bucket }),
    'X-Tigris-Snapshot',
    'true',
  );
  const version = captureHeader(command, SNAPSHOT_VERSION_HEADER);
  await client.send(command);
  const taken = version();
  if (!taken)
    throw new Error(
      `the server took no snapshot of ${bucket} (no ${SNAPSHOT_VERSION_HEADER} in its answer)`,
    );
  return taken;
}
