/**
 * The Chromium every browser test drives: Debian's (`apt-get install -y chromium`),
 * never a downloaded one (`playwright install` is not run). SYNCJOURNAL_CHROMIUM
 * points elsewhere.
 */
export const chromiumPath = process.env.SYNCJOURNAL_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, no sandbox (containers), and nothing that talks to Google's services. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
