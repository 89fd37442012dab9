import type { DemoConfig } from '../demo-config.js';

const CONFIG_KEY = 'syncjournal-demo:config';
const CLIENT_KEY = 'syncjournal-demo:client';

/**
 * The bucket settings: fresh from the server when it answers, else the ones saved at
 * the last visit (so the app opens offline).
 */
export async function loadConfig(): Promise<DemoConfig | null> {
  try {
    const response = await fetch('/demo-config.json', { cache: 'no-store' });
    if (response.ok) {
      const config = (await response.json()) as DemoConfig;
      localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
      return config;
    }
  } catch {
    // Offline: fall back to the saved settings.
  }
  const saved = localStorage.getItem(CONFIG_KEY);
  return saved ? (JSON.parse(saved) as DemoConfig) : null;
}

/** This browser profile's client id, made once and kept (the journal's runs carry it). */
export function clientId(): string {
  let id = localStorage.getItem(CLIENT_KEY);
  if (!id) {
    id = `browser-${crypto.randomUUID().slice(0, 8)}`;
    localStorage.setItem(CLIENT_KEY, id);
  }
  return id;
}
