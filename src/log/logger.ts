// The logger the servers (src/unit, src/sequencer, src/manager) take. They never load a
// logging library themselves: a library user or the simulator gets the no-op default and
// sees nothing, and `corfu` (src/cli/log.ts) passes pino, which fits this shape as it is.
//
// Calls are pino's: fields first, then the message. Fields are small scalars
// (addresses, epochs, request ids, codes): never a payload.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export type LogFn = (fields: LogFields, msg: string) => void;

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** Hot paths ask before building a line that would be dropped. */
  isLevelEnabled(level: LogLevel): boolean;
  /** A logger adding `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

const drop: LogFn = () => {};

/** Logs nothing: the default of every server option. */
export const noopLogger: Logger = {
  trace: drop,
  debug: drop,
  info: drop,
  warn: drop,
  error: drop,
  fatal: drop,
  isLevelEnabled: () => false,
  child: () => noopLogger,
};
