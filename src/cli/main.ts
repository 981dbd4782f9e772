// Entry of the Node command line (`npm run cli -- COMMAND ...`, or the `retouch` bin): one table of commands, each
// loaded from its own file only when run, and one place that turns failures into a one-line message and exit code.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from './args.ts';

type Runner = (argv: string[]) => Promise<number>;

interface Command {
  /** Shown in `retouch help`. */
  summary: string;
  /** Arguments part of the usage line. */
  args: string;
  /** Module beside this file, and the `(argv) => Promise<exit code>` it exports. It may also export `usage`. */
  file: string;
  run: string;
}

// One row per command: its file and exported function are loaded only when the command runs.
const COMMANDS: Record<string, Command> = {
  tokenize: {
    summary: 'print the 77 text-encoder token ids of each TEXT',
    args: '--model DIR TEXT...', file: './tokenize.ts', run: 'runTokenize',
  },
  inspect: {
    summary: 'what a diffusers model folder (or URL) holds: components, configs, weight files',
    args: '--model DIR|URL [--variant fp16|fp32|auto]', file: './inspect.ts', run: 'runInspect',
  },
  edit: {
    summary: 'apply an instruction to a photo (PNG/JPEG in, PNG with the parameters out)',
    args: '--model DIR --image FILE --prompt TEXT --out FILE.png [options]', file: './edit.ts', run: 'runEdit',
  },
  bench: {
    summary: 'measure the engine; --meter: FLOPs, dispatches and GPU memory of an edit from the configs alone',
    args: '--meter --model DIR [--size N] [--steps N] [--f16|--f32] [--json]', file: './bench.ts', run: 'runBench',
  },
};

function generalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length), 'help'.length);
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    'usage: retouch COMMAND [ARGS...]   (npm run cli -- COMMAND [ARGS...])',
    '',
    'commands:',
    ...rows,
    `  ${'help'.padEnd(width)}  this list; \`retouch help COMMAND\` or \`retouch COMMAND --help\` for one command`,
    '',
    'RETOUCH_DEBUG=1 prints stack traces on errors.',
  ].join('\n');
}

async function loadCommand(name: string, cmd: Command): Promise<{ run: Runner; usage: string }> {
  const url = new URL(cmd.file, import.meta.url);
  if (!existsSync(fileURLToPath(url))) throw new Error(`command "${name}" is not available in this build (${cmd.file} is missing)`);
  const mod = (await import(url.href)) as Record<string, unknown>;
  const run = mod[cmd.run];
  if (typeof run !== 'function') throw new Error(`${cmd.file} does not export ${cmd.run}()`);
  const usage = typeof mod.usage === 'string' ? mod.usage : `usage: retouch ${name} ${cmd.args}\n${cmd.summary}`;
  return { run: run as Runner, usage };
}

function commandOf(name: string): Command {
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) throw new UsageError(`unknown command "${name}" (commands: ${[...Object.keys(COMMANDS), 'help'].join(', ')})`);
  return cmd;
}

/** Runs one command line (without the node/script part) and returns the exit code; throws on failure. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(generalHelp() + '\n');
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    if (rest.length === 0) process.stdout.write(generalHelp() + '\n');
    else process.stdout.write((await loadCommand(rest[0], commandOf(rest[0]))).usage + '\n');
    return 0;
  }
  const command = await loadCommand(name, commandOf(name));
  const flagsPart = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (flagsPart.includes('--help') || flagsPart.includes('-h')) {
    process.stdout.write(command.usage + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) e.message = `${name}: ${e.message} (see retouch ${name} --help)`;
    throw e;
  }
}

/** One line on stderr, no stack unless RETOUCH_DEBUG=1; usage mistakes exit 2, everything else 1. */
function report(e: unknown): number {
  const debug = process.env.RETOUCH_DEBUG === '1';
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`retouch: ${debug && e instanceof Error && e.stack ? e.stack : message.split('\n')[0]}\n`);
  return e instanceof UsageError ? e.exitCode : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // A closed pipe (`retouch tokenize ... | head -1`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1));
  let code: number;
  try {
    code = await main(process.argv.slice(2));
  } catch (e) {
    code = report(e);
  }
  // Flush stdout, then exit even if a GPU device or timer would keep the event loop alive.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
