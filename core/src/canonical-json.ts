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
  return write(value, []);
}

/**
 * `path` is where `value` sits, kept as a stack and spelled out only for an error: the
 * journal serialises every payload it appends, and naming each member as it went cost
 * more than writing it.
 */
function write(value: unknown, path: (string | number)[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${where(path)} is ${value}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          if (value[i] === undefined) {
            out += 'null';
            continue;
          }
          path.push(i);
          out += write(value[i], path);
          path.pop();
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort(compareKeys);
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (i > 0) out += ',';
        path.push(key);
        out += `${JSON.stringify(key)}:${write(record[key], path)}`;
        path.pop();
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(
        `canonicalJson: ${where(path)} is a ${typeof value}, which JSON cannot hold`,
      );
  }
}

/** A path as `$.a[0].b`. */
function where(path: readonly (string | number)[]): string {
  return `$${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}`;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
