// The command line as a user runs it (separate node processes through tsx, and the package bin): exact tokenize
// output for a golden prompt, and one-line errors with the right exit codes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/cli/args.ts';

const root = join(import.meta.dirname, '../..');
const prompts = (JSON.parse(readFileSync(join(root, 'models/tiny-ip2p/golden/cases.json'), 'utf8')) as {
  tokenizer: { prompts: { prompt: string; input_ids: number[]; num_tokens_untruncated_incl_bos_eos: number }[] };
}).tokenizer.prompts;

function cli(args: string[], viaBin = false) {
  const argv = viaBin ? [join(root, 'bin/retouch.mjs'), ...args] : ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args];
  const r = spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, RETOUCH_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A single clear line on stderr, no stack trace.
function expectOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^retouch: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('retouch tokenize', () => {
  it('prints the golden ids of "make the sky a sunset" as one compact JSON line', () => {
    const p = prompts[0];
    expect(p.prompt).toBe('make the sky a sunset');
    const r = cli(['tokenize', '--model', 'models/tiny-ip2p', p.prompt]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`[${p.input_ids.join(',')}]\n`);
    expect(r.stdout.startsWith('[49406,1078,518,2390,320,3424,49407,49407,')).toBe(true);
  });

  it('prints one line per TEXT, in order, through the package bin', () => {
    const texts = [prompts[2], prompts[1], prompts[9]];
    const r = cli(['tokenize', '-m', 'models/instruct-pix2pix', ...texts.map((p) => p.prompt)], true);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([...texts.map((p) => JSON.stringify(p.input_ids)), '']);
  });

  it('--count prints the untruncated content-token count', () => {
    const long = prompts[4];
    const r = cli(['tokenize', '--model', 'models/tiny-ip2p', '--count', long.prompt]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${long.num_tokens_untruncated_incl_bos_eos - 2}\n`);
  });

  it('a missing --model folder is a clear one-line error, exit 1', () => {
    const r = cli(['tokenize', '--model', 'models/does-not-exist', 'a cat']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expectOneLineError(r.stderr, /model folder not found: models\/does-not-exist/);
  });

  it('a folder without tokenizer/ names what is missing', () => {
    const r = cli(['tokenize', '--model', 'models', 'a cat']);
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, /no tokenizer\/ folder/);
  });

  it('usage mistakes exit 2: no --model, unknown option, no TEXT', () => {
    for (const [args, pattern] of [
      [['tokenize', 'a cat'], /missing --model/],
      [['tokenize', '--model', 'models/tiny-ip2p', '--colour', 'red', 'a cat'], /unknown option --colour/],
      [['tokenize', '--model', 'models/tiny-ip2p'], /at least one TEXT/],
    ] as const) {
      const r = cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expectOneLineError(r.stderr, pattern);
    }
  });
});

describe('retouch dispatch', () => {
  it('an unknown command exits 2 with a one-line message listing the commands', () => {
    const r = cli(['frobnicate', 'x']);
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, /unknown command "frobnicate".*tokenize.*inspect/);
  });

  it('help lists the commands and exits 0; no command prints help and exits 2', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['tokenize', 'inspect', 'help']) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    const none = cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/usage: retouch COMMAND/);
  });

  it('COMMAND --help prints that command\'s usage', () => {
    const r = cli(['tokenize', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: retouch tokenize --model DIR TEXT\.\.\./);
  });
});

describe('parseArgs', () => {
  const specs = {
    model: { type: 'string', short: 'm', help: '' },
    steps: { type: 'number', help: '' },
    fast: { type: 'boolean', help: '' },
  } as const;

  it('reads values, booleans, positionals and --', () => {
    const { flags, positional } = parseArgs(['a', '--model=x', '--steps', '-3', '--fast', 'b', '--', '--not-a-flag'], specs);
    expect(flags).toEqual({ model: 'x', steps: -3, fast: true });
    expect(positional).toEqual(['a', 'b', '--not-a-flag']);
    expect(parseArgs(['-m', 'y'], specs).flags).toEqual({ model: 'y', steps: undefined, fast: false });
  });

  it('throws UsageError (exit code 2) on mistakes', () => {
    for (const argv of [['--nope'], ['-x'], ['--model'], ['--model', '--fast'], ['--steps', 'ten'], ['--fast=1']]) {
      let err: unknown;
      try {
        parseArgs(argv, specs);
      } catch (e) {
        err = e;
      }
      expect(err, argv.join(' ')).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(2);
    }
  });
});
