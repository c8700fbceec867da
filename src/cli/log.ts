// The servers' logs: pino, one JSON object a line on stderr (stdout keeps the
// `listening HOST:PORT` line that `corfu up` and the tests read), or pino-pretty's
// lines when stderr is a terminal. Both write synchronously in this thread: a
// transport's worker thread would lose the last lines when the process exits
// (a fatal error, a second SIGTERM's process.exit), and a server logs a few lines a
// second at info, so the synchronous write costs nothing that matters.
//
// Fields every line has: time (ISO), level (its name), component (unit, sequencer,
// manager), pid, msg; where known, unit (the unit's id), epoch, conn (the peer),
// req (the request id). No payload is ever logged.

import pino from 'pino';
import pretty from 'pino-pretty';
import { InvalidArgumentError } from 'commander';

import { NativeLoadError, isCorfuError } from '../../bindings/index.js';
import type { Logger } from '../log/logger.js';
import { FatalError } from './fatal-error.js';
import { UsageError } from './usage-error.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function logLevelArg(value: string): LogLevelName {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}.`);
  return value as LogLevelName;
}

export function logFormatArg(value: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_FORMATS.join(', ')}.`);
  return value as LogFormat;
}

/** What every server verb's flags carry (the options src/cli/config.ts adds to them). */
export interface LogFlags {
  readonly logLevel: LogLevelName;
  readonly logFormat: LogFormat;
}

export type ServerLogger = pino.Logger & Logger;

/** A logger writing to fd 2, synchronously. `fd` is for tests. */
export function createServerLogger(component: string, flags: LogFlags, fd = 2): ServerLogger {
  const human = flags.logFormat === 'pretty' || (flags.logFormat === 'auto' && fd === 2 && process.stderr.isTTY);
  const options: pino.LoggerOptions = {
    level: flags.logLevel,
    base: { pid: process.pid, component },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (human) {
    // One line an event, as the JSON is: the message first, the fields after it.
    const stream = pretty({
      destination: fd,
      sync: true,
      colorize: fd === 2 && process.stderr.isTTY,
      singleLine: true,
      messageFormat: '{component}: {msg}',
      ignore: 'pid,hostname,component',
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    });
    return pino(options, stream);
  }
  // Level names, not pino's numbers: journald, grep and people read them.
  return pino({ ...options, formatters: { level: (label) => ({ level: label }) } }, pino.destination({ fd, sync: true }));
}

/**
 * An error a server verb already logged (level fatal) before it exits: main.ts exits with
 * `exitCode` without printing it a second time.
 */
export class ReportedError extends Error {
  constructor(
    readonly exitCode: number,
    options: { cause: unknown },
  ) {
    super('already logged', options);
    this.name = 'ReportedError';
  }
}

/** What main.ts prints and exits with for an expected error; undefined for a bug. */
function expected(err: unknown): { code?: string; message: string; exitCode: number } | undefined {
  if (err instanceof UsageError) return { message: err.message, exitCode: 2 };
  if (isCorfuError(err)) return { code: err.code, message: err.message, exitCode: 1 };
  if (err instanceof FatalError || err instanceof NativeLoadError) return { message: err.message, exitCode: 1 };
  return undefined;
}

/**
 * Runs a server verb with its logger. An expected failure is one fatal line in the log
 * (`code` is the CorfuError's), then exit 1 (2 for a usage error); a bug is logged with
 * its stack and then crashes as before. With `--log-level silent` main.ts prints the
 * usual `error: ...` line instead: a failure is never silent.
 */
export async function runServer(component: string, flags: LogFlags, body: (log: ServerLogger) => Promise<void>): Promise<void> {
  const log = createServerLogger(component, flags);
  const logged = new WeakSet<object>();
  // Not a handler (the crash stays a crash, exit code and stack as always): a line before it.
  const monitor = (err: Error): void => {
    if (typeof err === 'object' && err !== null && logged.has(err)) return;
    log.fatal({ stack: String(err?.stack ?? err) }, `crashed: ${String(err?.message ?? err)}`);
  };
  process.on('uncaughtExceptionMonitor', monitor);
  try {
    await body(log);
  } catch (err) {
    const e = expected(err);
    if (e === undefined) {
      monitor(err as Error);
      if (typeof err === 'object' && err !== null) logged.add(err);
      throw err;
    }
    if (!log.isLevelEnabled('fatal')) throw err;
    log.fatal({ ...(e.code === undefined ? {} : { code: e.code }), exitCode: e.exitCode }, e.message);
    throw new ReportedError(e.exitCode, { cause: err });
  } finally {
    process.off('uncaughtExceptionMonitor', monitor);
  }
}
