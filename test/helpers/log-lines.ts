// A server's stderr is its log: one JSON object a line (src/cli/log.ts). Every line must
// parse; a stray unstructured line is a failure.

export interface LogLine {
  readonly level: string;
  readonly time: string;
  readonly component: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function logLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const o = JSON.parse(l) as LogLine;
      if (typeof o.level !== 'string' || typeof o.msg !== 'string' || typeof o.time !== 'string' || typeof o.component !== 'string') throw new Error(`not a log line: ${l}`);
      return o;
    });
}
