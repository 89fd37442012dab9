/** Cases the memory sync model runs per store configuration by default. */
export const DEFAULT_MODEL_RUNS = 1000;

/**
 * How many cases a property runs (`setting`: the environment's, unless given). `npm run test:property -- --runs N` (or
 * SYNCJOURNAL_PROPERTY_RUNS=N) makes the memory sync model run N cases per store
 * configuration, and scales every other property's default by the same factor.
 */
export function runs(
  defaultRuns: number,
  setting: string | undefined = process.env.SYNCJOURNAL_PROPERTY_RUNS,
): number {
  const given = Number(setting || Number.NaN);
  if (!Number.isInteger(given) || given <= 0) return defaultRuns;
  return Math.max(1, Math.round((defaultRuns * given) / DEFAULT_MODEL_RUNS));
}

/**
 * A fixed seed when SYNCJOURNAL_PROPERTY_SEED is set, to replay a reported failure. A page
 * (the browser tests) has no `process.env` and passes the setting it was given.
 */
export function seed(setting: string | undefined = process.env.SYNCJOURNAL_PROPERTY_SEED): {
  seed?: number;
} {
  const given = Number(setting || Number.NaN);
  return Number.isInteger(given) ? { seed: given } : {};
}
