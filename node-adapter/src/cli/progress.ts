import type { ProgressEvent } from '@syncjournal/core';
import cliProgress from 'cli-progress';
import type { Output } from './output.js';

/**
 * Progress bars on a terminal: scanning and hashing, then transfers. Off for `--json`
 * and when stderr is not a terminal, so logs and pipes stay clean.
 */
export function progressReporter(output: Output): {
  onProgress?: (e: ProgressEvent) => void;
  stop(): void;
} {
  if (!output.tty) return { stop() {} };
  const bars = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      clearOnComplete: true,
      hideCursor: true,
      format: ' {phase} |{bar}| {value}/{total} {detail}',
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let scan: cliProgress.SingleBar | undefined;
  let apply: cliProgress.SingleBar | undefined;
  return {
    onProgress(event) {
      if (event.phase === 'scan') {
        scan ??= bars.create(0, 0, { phase: 'scan ', detail: '' });
        scan.setTotal(event.files);
        scan.update(event.files, {
          detail: `files, ${event.hashed} hashed (${Math.round(event.bytes / 1024)} KiB)`,
        });
      } else if (event.phase === 'apply') {
        apply ??= bars.create(event.total, 0, { phase: 'apply', detail: '' });
        apply.update(event.done, { detail: event.path });
      }
    },
    stop: () => bars.stop(),
  };
}
