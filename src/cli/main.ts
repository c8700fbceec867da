#!/usr/bin/env node
// The `corfu` command. Expected failures end in one line on stderr and a
// meaningful exit code: 2 for usage (bad flags, impossible requests), 1 for a
// CorfuError (`error ERR_X: message`). Only a bug prints a stack trace.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Command, CommanderError } from 'commander';

import { NativeLoadError, isCorfuError } from '../../bindings/index.js';
import { packageRoot } from '../../bindings/native.js';
import { addBenchCommands } from './bench.js';
import { DEFAULT_LAYOUT, addressArg, appendVerb, fillVerb, outputArg, readVerb, statusVerb, tailVerb, trimVerb, type LayoutFlags, type StatusFlags } from './debug.js';
import type { CertsInitFlags } from './certs.js';
import { demoVerb, type DemoFlags } from './demo.js';
import { installConfig } from './config.js';
import { FatalError } from './fatal-error.js';
import { formatVerb, type FormatFlags } from './format.js';
import { inspectVerb } from './inspect.js';
import { managerVerb, type ManagerFlags } from './manager.js';
import { hostPortArg, layoutInitVerb, layoutReconfigureVerb, layoutShowVerb, replaceArg, stripeArg, type LayoutInitFlags, type LayoutReconfigureFlags } from './layout.js';
import { certHostArg, countArg, clusterIdArg, frontArg, listenArg, positiveCountArg, sizeArg, storeUrlArg, syncArg } from './options.js';
import { kvDelVerb, kvDumpVerb, kvGetVerb, kvPutVerb, type KvFlags } from './kv.js';
import { applySecurityOptions } from './security.js';
import { ReportedError } from './log.js';
import { sequencerVerb, type SequencerFlags } from './sequencer.js';
import { DEFAULT_MAX_STREAMS } from '../sequencer/streams.js';
import { unitVerb, type UnitFlags } from './unit.js';
import { upVerb, type UpFlags } from './up.js';
import { UsageError } from './usage-error.js';

/** A repeatable HOST:PORT option. */
function hostPorts(value: string, previous: string[]): string[] {
  return [...previous, hostPortArg(value)];
}

// The servers' admin listener (src/cli/admin.ts).
const adminOption = ['--admin <host:port>', 'serve /livez, /readyz, /metrics and /status over HTTP here (a bare PORT means 127.0.0.1, port 0 picks a free one; none when absent)', listenArg] as const;
const drainOption = ['--drain <ms>', 'after SIGTERM, serve on this long while /readyz answers 503 (draining)', countArg, 0] as const;

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;

function version(): string {
  const { version: v } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof v === 'string' ? v : 'unknown';
}

function buildProgram(): Command {
  const program = new Command('corfu')
    .description('CORFU-style shared log: storage units, sequencer, layouts, a local cluster and a client')
    .version(version())
    // Throw instead of process.exit so main() picks the exit code; set before
    // adding commands, which copy these settings.
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ outputError: (message, write) => write(message.trimEnd().split('\n')[0] + '\n') });

  program
    .command('format')
    .description('write fresh superblocks to a block device or file')
    .argument('<path>', 'block device or regular file')
    .option('--size <bytes>', 'size of a regular file (created if missing), e.g. 1G', sizeArg)
    .option('--max-entry-bytes <n>', 'largest payload the unit accepts, e.g. 64K', sizeArg)
    .option('--cluster-id <hex>', 'cluster id, 32 hex digits, stamped on the device (random if omitted)', clusterIdArg)
    .option('--unit-id <n>', "this unit's id within the cluster", countArg)
    .option('--force', 'erase whatever the device holds: a Corfu unit, a filesystem, a partition table')
    .option('--zero', "write zeros over a regular file first: its first pass of writes then syncs without committing the filesystem's journal (files only)")
    .action((path: string, flags: FormatFlags) => formatVerb(path, flags));

  program
    .command('inspect')
    .description('print the superblock of a formatted device')
    .argument('<path>', 'block device or regular file')
    .option('--json', 'print JSON instead of a table')
    .action((path: string, flags: { json?: boolean }) => inspectVerb(path, flags));

  program
    .command('demo')
    .description('append N entries to a local file-backed unit, read them back, verify and time both')
    .option('--dir <dir>', 'where the demo device file lives', '.corfu')
    .option('--entries <n>', 'entries to append', positiveCountArg, 100_000)
    .option('--entry-bytes <b>', 'payload bytes per entry', sizeArg, 128)
    .option('--size <bytes>', 'size of the device file when it is created', sizeArg, 256 * 1024 * 1024)
    .option('--sync <mode>', "'always' (durable before ack) or 'none' (benchmarks only)", syncArg, 'always')
    .action((flags: DemoFlags) => demoVerb(flags));

  program
    .command('sequencer')
    .description('serve tokens and stream tails (TOKEN, TAIL, WAIT_TAIL, STREAM_TOKEN, STREAM_TAILS, STREAM_SEED, SEAL, BOOTSTRAP, PING) over TCP until SIGTERM')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:0; port 0 picks a free one)', listenArg)
    .option('--epoch <e>', 'the epoch to start in', countArg, 0)
    .option('--start-tail <t>', 'the first token: above every address written on any unit', countArg, 0)
    .option('--max-streams <n>', 'the most streams it keeps tails for (a STREAM_TOKEN for one more is refused with ERR_FULL)', positiveCountArg, DEFAULT_MAX_STREAMS)
    .option('--front <loop>', "'native' (TOKEN answered on the addon's own thread) or 'node' (Node's sockets); TLS and tokens always use 'node'", frontArg, 'native')
    .option(...adminOption)
    .option(...drainOption)
    .action((flags: SequencerFlags) => sequencerVerb(flags));

  program
    .command('manager')
    .description('watch the cluster and heal it: replace dead units with empty spares and rebuild their copies, move a dead sequencer to a standby (until SIGTERM)')
    .requiredOption('--layout <url>', 'projection store of the cluster, file:DIR or etcd://HOST:PORT[,...]/PREFIX', storeUrlArg)
    .option('--spare <host:port>', 'a unit that can replace a dead one (repeatable)', hostPorts, [] as string[])
    .option('--standby-sequencer <host:port>', 'a sequencer that can replace a dead one (repeatable)', hostPorts, [] as string[])
    .option('--probe-interval <ms>', 'between two probes of a server', positiveCountArg, 1000)
    .option('--probe-timeout <ms>', 'a probe without an answer within this is a miss', positiveCountArg, 1000)
    .option('--misses <n>', 'consecutive misses before a server counts as dead', positiveCountArg, 3)
    .option('--grace <ms>', 'how long a dead unit stays dead before it is replaced', countArg, 0)
    .option('--max-epochs-per-minute <n>', 'reconfigurations started per minute, at most', positiveCountArg, 6)
    .option('--rebuild-rate <bytes/s>', "a rebuild's copy rate, at most (default: as fast as the units answer)", positiveCountArg)
    .option(...adminOption)
    .option(...drainOption)
    .action((flags: ManagerFlags) => managerVerb(flags));

  program
    .command('unit')
    .description('serve one formatted device over TCP as a storage unit (until SIGTERM/SIGINT)')
    .requiredOption('--device <path>', 'formatted block device or file (see `corfu format`)')
    .requiredOption('--listen <host:port>', 'address to listen on; a bare PORT means 127.0.0.1, port 0 picks a free one', listenArg)
    .option('--sync <mode>', "'always' (durable before ack) or 'none' (benchmarks only)", syncArg, 'always')
    .option('--front <loop>', "'native' (WRITE read and answered on the addon's own threads) or 'node' (Node's sockets); TLS and tokens always use 'node'", frontArg, 'native')
    .option(...adminOption)
    .option(...drainOption)
    .action((flags: UnitFlags) => unitVerb(flags));

  const layout = program.command('layout').description('projections: write and show the layout of the log');

  layout
    .command('init')
    .description('seal the units and the sequencer to epoch 1 and write projection epoch 1 (one open segment from 0)')
    .requiredOption('--store <url>', 'projection store: file:DIR or etcd://HOST:PORT[,HOST:PORT...]/PREFIX', storeUrlArg)
    .requiredOption('--sequencer <host:port>', 'the sequencer (bootstrapped above every written address)', hostPortArg)
    .requiredOption('--stripe <host:port,...>', 'a chain of units, head first (repeat for each stripe)', stripeArg)
    .action((flags: LayoutInitFlags) => layoutInitVerb(flags));

  layout
    .command('show')
    .description('print the latest projection')
    .requiredOption('--store <url>', 'projection store: file:DIR or etcd://HOST:PORT[,HOST:PORT...]/PREFIX', storeUrlArg)
    .option('--json', 'print JSON instead of a table')
    .action((flags: { store: string; json?: boolean }) => layoutShowVerb(flags));

  layout
    .command('reconfigure')
    .description('install the next epoch: seal every unit, bootstrap the sequencer above their tails, propose')
    .requiredOption('--store <url>', 'projection store: file:DIR or etcd://HOST:PORT[,HOST:PORT...]/PREFIX', storeUrlArg)
    .option('--replace <old=new>', 'replace unit OLD by NEW from the tail on; OLD leaves the older chains (repeatable)', replaceArg)
    .option('--add-segment', 'stripe the log over new chains from the tail on (give them with --stripe)')
    .option('--stripe <host:port,...>', 'a chain of the new segment, head first (repeat for each stripe)', stripeArg)
    .option('--sequencer <host:port>', 'move the sequencer here (it is bootstrapped above every written address)', hostPortArg)
    .option('--expect-epoch <n>', 'only if the latest projection is epoch N (refuse to change a layout you have not seen)', positiveCountArg)
    .action((flags: LayoutReconfigureFlags) => layoutReconfigureVerb(flags));

  program
    .command('up')
    .description('run a local cluster (units, spares, a sequencer and a standby, a manager; loopback, files as devices) until SIGINT/SIGTERM')
    .option('--dir <dir>', 'where the device files, the layout and the logs live', '.corfu')
    .option('--store <url>', 'keep the layout in this projection store (e.g. etcd://127.0.0.1:2379/corfu) instead of file:DIR/layout', storeUrlArg)
    .option('--units <n>', 'storage units', positiveCountArg, 4)
    .option('--replicas <n>', 'units per chain (units must be a multiple)', positiveCountArg, 2)
    .option('--size <bytes>', 'size of each device file when it is created', sizeArg, 256 * 1024 * 1024)
    .option('--max-entry-bytes <n>', 'largest payload of an entry, for device files created now, e.g. 1M (default 64K)', sizeArg)
    .option('--sync <mode>', "'always' (durable before ack) or 'none' (benchmarks only)", syncArg, 'always')
    .option('--demo <n>', 'once up, append N entries, read them back, verify and print appends/s and latency', positiveCountArg)
    .option('--entry-bytes <b>', 'payload bytes per demo entry', sizeArg, 128)
    .option('--spares <n>', 'empty units the manager may replace a dead one with', countArg, 1)
    .option('--no-zero', 'create device files without writing zeros over them (faster start, slower first pass of writes)')
    .option('--chaos', 'with --demo: kill -9 a unit halfway through the appends (the manager heals the cluster)')
    .option('--tls', 'mutual TLS everywhere, with the certificates of `corfu certs init DIR/certs` (made on the first run, reused after)')
    .action((flags: UpFlags) => upVerb(flags));

  const certs = program.command('certs').description('certificates for TLS and mutual TLS (docs/operations.md, "TLS and authorization")');
  certs
    .command('init')
    .description('make a development CA and its certificates in DIR: ca, server (SAN 127.0.0.1, localhost, --host), client (OU=client), admin (OU=admin); keys mode 0600')
    .argument('<dir>', 'where to write ca.crt, ca.key, server.crt, server.key, client.crt, client.key, admin.crt, admin.key (created if missing)')
    .option('--host <host>', "another name for the server certificate's subjectAltName: an IP address or a DNS name (repeatable)", certHostArg, [] as string[])
    .option('--days <n>', 'how long the certificates are valid', positiveCountArg, 365)
    .option('--force', 'replace the files if DIR already holds some (a new CA: every server and client needs the new files)')
    // Loaded only here (and by `up --tls`): the X.509 code and its Reflect polyfill stay out of every other verb.
    .action(async (dir: string, flags: CertsInitFlags) => (await import('./certs.js')).certsInitVerb(dir, flags));

  // Debug verbs against a running log (see debug.ts).
  const layoutOption = [
    '--layout <url>',
    'projection store of the log, file:DIR or etcd://HOST:PORT[,...]/PREFIX (default: the one `corfu up` made in ./.corfu)',
    storeUrlArg,
    DEFAULT_LAYOUT,
  ] as const;
  program
    .command('append')
    .description('append one entry (DATA, or stdin) and print its address')
    .argument('[data]', 'the payload as UTF-8 text')
    .option(...layoutOption)
    .action((data: string | undefined, flags: LayoutFlags) => appendVerb(data, flags));
  program
    .command('read')
    .description('print the entry at ADDR (kind; payload as UTF-8 if printable, else hex)')
    .argument('<addr>', 'log address', addressArg)
    .option(...layoutOption)
    .option('--json', 'print JSON')
    .action((addr: number, flags: LayoutFlags & { json?: boolean }) => readVerb(addr, flags));
  program
    .command('tail')
    .description("print the sequencer's tail (the next address)")
    .option(...layoutOption)
    .action((flags: LayoutFlags) => tailVerb(flags));
  program
    .command('fill')
    .description('fill ADDR with junk unless it already holds data')
    .argument('<addr>', 'log address', addressArg)
    .option(...layoutOption)
    .action((addr: number, flags: LayoutFlags) => fillVerb(addr, flags));
  program
    .command('trim')
    .description('trim ADDR on every unit of its chain')
    .argument('<addr>', 'log address', addressArg)
    .option(...layoutOption)
    .action((addr: number, flags: LayoutFlags) => trimVerb(addr, flags));
  const kv = program.command('kv').description('the key-value store on the log: put, get, del, dump (values are UTF-8 strings)');
  const storeOption = ['--store <name>', 'which store (an object name)', 'kv'] as const;
  kv.command('put')
    .description('put KEY VALUE; several pairs are one atomic multiPut (one log entry); prints its address')
    .argument('<pairs...>', 'KEY VALUE [KEY VALUE ...]')
    .option(...layoutOption)
    .option(...storeOption)
    .action((pairs: string[], flags: KvFlags) => kvPutVerb(pairs, flags));
  kv.command('get')
    .description('print the value of each KEY, all read from one snapshot (exit 1 if one is missing)')
    .argument('<keys...>', 'KEY [KEY ...]')
    .option(...layoutOption)
    .option(...storeOption)
    .option('--json', 'print one JSON object (null for a missing key)')
    .action((keys: string[], flags: KvFlags) => kvGetVerb(keys, flags));
  kv.command('del')
    .description('delete KEY; prints the address of the delete')
    .argument('<key>', 'KEY')
    .option(...layoutOption)
    .option(...storeOption)
    .action((key: string, flags: KvFlags) => kvDelVerb(key, flags));
  kv.command('dump')
    .description('print every KEY<TAB>VALUE in key order')
    .option(...layoutOption)
    .option(...storeOption)
    .option('--json', 'print one JSON object')
    .action((flags: KvFlags) => kvDumpVerb(flags));

  program
    .command('status')
    .description("the cluster: the projection epoch; the sequencer and each unit (up/down, epoch, tail, trim mark, space, sync); each segment's chains and the under-replicated ones; rebuilds")
    .option(...layoutOption)
    .option('-o, --output <format>', "'table' or 'json'", outputArg, 'table')
    .option('--json', 'print JSON (-o json)')
    .action((flags: StatusFlags) => statusVerb(flags));

  addBenchCommands(program);

  // TLS and authorization flags on every verb that serves or connects (security.ts).
  applySecurityOptions(program);
  // Every option of a server verb is settable from --config FILE and CORFU_* too (after
  // the security flags are added, so they are too).
  installConfig(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    // A verb that finished its output but failed its purpose (kv get of a missing key) set it.
    return Number(process.exitCode ?? 0);
  } catch (err) {
    // commander has already printed its one line (or the help text).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    // A server verb's failure, already in its log.
    if (err instanceof ReportedError) return err.exitCode;
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (isCorfuError(err)) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      return EXIT_ERROR;
    }
    if (err instanceof FatalError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_ERROR;
    }
    if (err instanceof NativeLoadError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_ERROR;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv);
