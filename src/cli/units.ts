// Human sizes in and out: `--size 1G`, `64K`, and "1.00 GiB" in tables.
// Suffixes are binary (K = 1024) because devices and pages are.

const POWERS: Readonly<Record<string, number>> = { '': 0, K: 1, M: 2, G: 3, T: 4 };

/** Parses `4096`, `64K`, `64KiB`, `1G`, `1.5M` into bytes; undefined if it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (m === null) return undefined;
  const bytes = Number(m[1]) * 1024 ** (POWERS[(m[2] ?? '').toUpperCase()] ?? 0);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || Number.isInteger(value) ? 0 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** 1234567 -> "1,234,567": rates are read by people. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
