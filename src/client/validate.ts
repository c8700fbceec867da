// How a wrong argument is named in an error message: its type and, for
// primitives, its value (`got string '5'`), so the caller sees what they passed.

const MAX_SHOWN_CHARS = 40;

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string': {
      const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}…` : value;
      return `string '${shown}'`;
    }
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (Array.isArray(value)) return `an array of ${value.length}`;
      return `an object (${value.constructor?.name ?? 'no prototype'})`;
  }
}
