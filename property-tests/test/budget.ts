/**
 * How many cases each property runs. `npm run test:property -- --runs N` (or
 * SYNCJOURNAL_PROPERTY_RUNS=N) scales every property from its default budget.
 */
export function runs(defaultRuns: number): number {
  const given = Number(process.env.SYNCJOURNAL_PROPERTY_RUNS);
  return Number.isInteger(given) && given > 0 ? given : defaultRuns;
}

/** A fixed seed when SYNCJOURNAL_PROPERTY_SEED is set, to replay a reported failure. */
export function seed(): { seed?: number } {
  const given = Number(process.env.SYNCJOURNAL_PROPERTY_SEED);
  return Number.isInteger(given) ? { seed: given } : {};
}
