// Configuration of the server verbs (`corfu unit`, `corfu sequencer`, `corfu manager`):
// a file (`--config FILE`, YAML or JSON), `CORFU_*` environment variables and flags.
// Precedence: flag > env > file > default (docs/operations.md, "Configuration").
//
// The table of what can be set is the verb's commander options, nothing else: each
// option `--max-streams <n>` is the file key `max-streams` and the variable
// `CORFU_MAX_STREAMS`, its value checked and converted by the option's own parser (the
// one a flag goes through). Adding a flag to a server verb adds it to the file and the
// environment; there is no second list to keep in step. The zod schemas are built from
// those options when the verb runs.
//
// How it hooks into commander: before the verb's options are parsed (a `preSubcommand`
// hook on the program), the file and the environment are read, validated, and set as the
// options' values with sources 'config' and 'env'; the flags parsed after them override
// them (source 'cli'). This must happen before parsing, not in `preAction`: commander
// checks mandatory options (`unit --device`) before `preAction`, and a unit run by
// systemd names its device only in its file.
//
// Errors (an unknown key, a bad value, a file that does not parse) are one line naming
// the key and where it came from, exit 2 like a bad flag (a UsageError).

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';

import { Command, CommanderError, InvalidArgumentError, type Option } from 'commander';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';

import { logFormatArg, logLevelArg } from './log.js';
import { UsageError } from './usage-error.js';

export const SERVER_VERBS: readonly string[] = ['unit', 'sequencer', 'manager'];

/** Variables that are not options, never refused: Corfu's own for its children; CORFU_NATIVE_APPENDS=0 turns the client's native append path off (src/client/native-appends.ts). */
const RESERVED_ENV: ReadonlySet<string> = new Set(['CORFU_EXIT_WITH_PARENT', 'CORFU_NATIVE_APPENDS']);

/** Options that steer the configuration itself: not settable in the file. */
const NOT_IN_FILE: ReadonlySet<string> = new Set(['config', 'print-config', 'help', 'version']);

export type Source = 'flag' | 'env' | 'file' | 'default';

/** One settable option of a verb, derived from its commander Option. */
interface Setting {
  /** The flag's name without dashes (`max-streams`): the file key. */
  readonly key: string;
  readonly env: string;
  readonly option: Option;
  /** Takes a value (`--sync <mode>`), as opposed to a switch (`--force`). */
  readonly takesValue: boolean;
  /** Repeatable (`--spare A --spare B`): a list in the file, comma-separated in the environment. */
  readonly list: boolean;
}

export function envName(key: string): string {
  return `CORFU_${key.replace(/-/g, '_').toUpperCase()}`;
}

function settings(command: Command): Setting[] {
  return command.options
    .filter((o) => o.long !== undefined)
    .map((option) => {
      const key = option.long!.replace(/^--/, '').replace(option.negate ? /^no-/ : /^$/, '');
      return { key, env: envName(key), option, takesValue: option.required || option.optional, list: option.variadic || Array.isArray(option.defaultValue) };
    })
    .filter((s) => !NOT_IN_FILE.has(s.key));
}

/** Runs the option's own parser on one value, as a flag would; its complaint becomes a zod issue. */
function parseOne(s: Setting, raw: string, previous: unknown, ctx: z.RefinementCtx): unknown {
  if (s.option.parseArg === undefined) return s.list ? [...((previous as unknown[]) ?? []), raw] : raw;
  try {
    return s.option.parseArg(raw, previous);
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      ctx.addIssue({ code: 'custom', message: `'${raw}' is invalid: ${err.message}` });
      return z.NEVER;
    }
    throw err;
  }
}

const scalar = z.union([z.string(), z.number().transform(String)], { error: 'expected a string or a number' });

/** The schema of one setting's value: in the file as YAML gave it, or in the environment as a string. */
function valueSchema(s: Setting, fromEnv: boolean): z.ZodType<unknown> {
  if (!s.takesValue) {
    const word = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true, false, 1, 0, yes or no' }).transform((w) => w === 'true' || w === '1' || w === 'yes');
    return fromEnv ? word : z.boolean({ error: 'expected true or false' });
  }
  if (s.list) {
    const items = fromEnv
      ? z.string().transform((v) => v.split(',').filter((x) => x !== ''))
      : z.union([scalar.transform((v) => [v]), z.array(scalar)], { error: 'expected a value or a list of values' });
    // Accumulated from the option's default, as repeated flags would be.
    return items.transform((values, ctx) => values.reduce<unknown>((acc, v) => parseOne(s, v, acc, ctx), s.option.defaultValue));
  }
  return (fromEnv ? z.string() : scalar).transform((v, ctx) => parseOne(s, v, s.option.defaultValue, ctx));
}

function fileSchema(command: Command): z.ZodType<Record<string, unknown>> {
  return z.strictObject(Object.fromEntries(settings(command).map((s) => [s.key, valueSchema(s, false).optional()])));
}

function describeIssue(issue: z.core.$ZodIssue, where: (key: string) => string): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `unknown key ${where([...issue.path, k].join('.'))}`).join('; ');
  }
  const key = issue.path.join('.');
  return `${where(key)}: ${issue.message}`;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`config file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const ext = extname(path).toLowerCase();
  let raw: unknown;
  try {
    if (ext === '.json') raw = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') raw = parseYaml(text, { prettyErrors: false });
    else throw new UsageError(`config file ${path}: expected a .yaml, .yml or .json file`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`config file ${path}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`config file ${path}: expected a mapping of option names to values`);
  return raw as Record<string, unknown>;
}

/**
 * The file's values for `verb`: its top-level keys, then its `verb:` section over them.
 * Every other verb's section is checked against that verb's options too, so a typo there
 * is found by whichever server starts first.
 */
function fileValues(program: Command, verb: Command, path: string): { values: Record<string, unknown>; raw: Record<string, unknown> } {
  const raw = readConfigFile(path);
  const top: Record<string, unknown> = {};
  let section: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!SERVER_VERBS.includes(key)) {
      top[key] = value;
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`config file ${path}: key '${key}': expected a mapping of ${key}'s option names to values`);
    const other = program.commands.find((c) => c.name() === key)!;
    const parsed = fileSchema(other).safeParse(value);
    if (!parsed.success) throw new UsageError(`config file ${path}: ${describeIssue(parsed.error.issues[0]!, (k) => `'${key}.${k}'`)}`);
    if (key === verb.name()) section = value as Record<string, unknown>;
  }
  const parsed = fileSchema(verb).safeParse({ ...top, ...section });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const inSection = (k: string): boolean => Object.hasOwn(section, k.split('.')[0]!);
    throw new UsageError(
      `config file ${path}: ${describeIssue(issue, (k) => (inSection(k) ? `'${verb.name()}.${k}'` : `'${k}'`))}${issue.code === 'unrecognized_keys' ? ` (corfu ${verb.name()} has no such option)` : ''}`,
    );
  }
  return { values: parsed.data, raw: { ...top, ...section } };
}

function envValues(program: Command, verb: Command, env: NodeJS.ProcessEnv): Record<string, unknown> {
  // A CORFU_ variable no command knows is a typo; one another verb knows is that verb's.
  const known = new Set<string>(RESERVED_ENV);
  const visit = (c: Command): void => {
    for (const s of settings(c)) known.add(s.env);
    known.add(envName('config'));
    c.commands.forEach(visit);
  };
  visit(program);
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith('CORFU_') && !known.has(name))
      throw new UsageError(`environment variable ${name}: no corfu command has the option it would set (--${name.slice(6).toLowerCase().replace(/_/g, '-')})`);
  }
  const out: Record<string, unknown> = {};
  for (const s of settings(verb)) {
    const value = env[s.env];
    if (value === undefined) continue;
    const parsed = valueSchema(s, true).safeParse(value);
    if (!parsed.success) throw new UsageError(`environment variable ${s.env}: ${parsed.error.issues[0]!.message}`);
    out[s.key] = parsed.data;
  }
  return out;
}

/** `--config FILE` or `--config=FILE` in the verb's raw arguments (they are not parsed yet). */
function configFlag(args: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === '--config') found = args[++i];
    else if (a.startsWith('--config=')) found = a.slice('--config='.length);
  }
  return found;
}

const SOURCE_OF: Record<string, Source> = { cli: 'flag', env: 'env', config: 'file', default: 'default' };

/** Adds --config, --log-level, --log-format and --print-config to the server verbs and wires the file and the environment in. */
export function installConfig(program: Command, env: NodeJS.ProcessEnv = process.env): void {
  const verbs = program.commands.filter((c) => SERVER_VERBS.includes(c.name()));
  for (const verb of verbs) {
    verb
      .option('--config <file>', 'read options from this YAML or JSON file (flag > CORFU_* environment > file > default)')
      .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent', logLevelArg, 'info')
      .option('--log-format <format>', "'json', 'pretty', or 'auto' (pretty when stderr is a terminal)", logFormatArg, 'auto')
      .option('--print-config', 'print the effective configuration and where each value came from, then exit');
  }
  // Per option, the text it was given as (for --print-config), whatever the source.
  const rawText = new Map<string, string | string[]>();

  program.hook('preSubcommand', (_program, verb) => {
    if (!SERVER_VERBS.includes(verb.name())) return;
    const args = program.args.slice(program.args.indexOf(verb.name()) + 1);
    const path = configFlag(args) ?? env[envName('config')];
    const fromFile = path === undefined ? { values: {}, raw: {} } : fileValues(program, verb, path);
    const fromEnv = envValues(program, verb, env);
    for (const s of settings(verb)) {
      const attr = s.option.attributeName();
      if (s.key in fromEnv) {
        verb.setOptionValueWithSource(attr, fromEnv[s.key], 'env');
        rawText.set(attr, s.list ? env[s.env]!.split(',').filter((x) => x !== '') : env[s.env]!);
      } else if (s.key in fromFile.values) {
        verb.setOptionValueWithSource(attr, fromFile.values[s.key], 'config');
        const raw = fromFile.raw[s.key];
        rawText.set(attr, Array.isArray(raw) ? raw.map(String) : String(raw));
      }
      const parse = s.option.parseArg;
      // A repeated flag adds to the values before it: to the flags', not the file's or
      // the environment's, which the first flag replaces (flag > env > file).
      s.option.parseArg = <T>(value: string, previous: T): T => {
        const fresh = verb.getOptionValueSource(attr) !== 'cli';
        const before = fresh && s.list ? (s.option.defaultValue as T) : previous;
        const text = rawText.get(attr);
        rawText.set(attr, s.list ? [...(fresh || !Array.isArray(text) ? [] : text), value] : value);
        if (parse !== undefined) return parse(value, before);
        return (s.option.variadic ? [...((before as unknown[] | undefined) ?? []), value] : value) as T;
      };
    }
    // (A --config flag sets itself when the flags are parsed.)
    if (path !== undefined && configFlag(args) === undefined) verb.setOptionValueWithSource('config', path, 'env');
  });

  program.hook('preAction', (_program, action) => {
    if (!SERVER_VERBS.includes(action.name()) || action.opts()['printConfig'] !== true) return;
    process.stdout.write(printConfig(action, rawText));
    // Exit 0 without running the verb: main.ts exits 0 on a CommanderError with code 0.
    throw new CommanderError(0, 'corfu.printConfig', '');
  });
}

const SECRET = /token|password|secret/i;

/** A value as the file would spell it, or `<redacted>` for a secret's (a `*-file` key's path is no secret). */
function shown(key: string, value: unknown, text: string | string[] | undefined): string {
  if (SECRET.test(key) && !key.endsWith('-file')) return '<redacted>';
  // The parsed value where it reads as it was given (numbers, words, lists of them); the
  // text it was given as where parsing made it a structure (`listen: 127.0.0.1:7000`).
  const plain = (x: unknown): boolean => ['string', 'number', 'boolean'].includes(typeof x);
  const v = plain(value) || (Array.isArray(value) && value.every(plain)) ? value : (text ?? JSON.stringify(value));
  return stringifyYaml(v, { collectionStyle: 'flow' }).trimEnd();
}

/** The effective configuration as YAML a --config file accepts, each line commented with its source. */
export function printConfig(verb: Command, rawText: ReadonlyMap<string, string | string[]>): string {
  const opts = verb.opts();
  const configPath = opts['config'] as string | undefined;
  const lines = [`# corfu ${verb.name()}: the effective configuration (flag > env > file > default)`];
  if (configPath !== undefined) lines.push(`# config file: ${configPath} (${verb.getOptionValueSource('config') === 'env' ? 'CORFU_CONFIG' : '--config'})`);
  for (const s of settings(verb)) {
    const attr = s.option.attributeName();
    const value: unknown = opts[attr];
    const source = SOURCE_OF[verb.getOptionValueSource(attr) ?? ''];
    if (value === undefined) {
      lines.push(`# ${s.key}: (not set)`);
      continue;
    }
    const where = source === 'env' ? `env ${s.env}` : source === 'file' ? `file ${configPath}` : (source ?? 'set');
    lines.push(`${s.key}: ${shown(s.key, value, source === 'default' ? undefined : rawText.get(attr))}  # ${where}`);
  }
  return `${lines.join('\n')}\n`;
}
