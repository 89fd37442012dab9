/** A JSON value as syncjournal stores it: no undefined, no non-finite numbers. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * Serialises a value as canonical JSON: object keys sorted by code point, no
 * whitespace, `undefined` members dropped. Two values that are equal as JSON give
 * the same string, whatever their key order — which is what the journal's hash
 * chain needs, because Postgres' jsonb does not keep key order.
 *
 * Throws a TypeError for values JSON cannot carry faithfully (NaN, Infinity,
 * bigint, functions) rather than silently changing them.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, at: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${at} is ${value}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => (v === undefined ? 'null' : write(v, `${at}[${i}]`))).join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort(compareKeys);
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(record[k], `${at}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: ${at} is a ${typeof value}, which JSON cannot hold`);
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
