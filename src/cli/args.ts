// A small typed argument parser for the CLI commands: each command declares its flags once and gets typed values
// back; anything unexpected is a UsageError, which main.ts prints as one line and turns into exit code 2.

export type FlagType = 'string' | 'number' | 'boolean';

export interface FlagSpec {
  type: FlagType;
  /** One-line description for the command's help. */
  help: string;
  /** Single-letter alias, used as `-m VALUE`. */
  short?: string;
  /** Placeholder shown in help, e.g. DIR. */
  value?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

/** string -> string | undefined, number -> number | undefined, boolean -> boolean (false when absent). */
export type ParsedFlags<S extends FlagSpecs> = {
  [K in keyof S]: S[K]['type'] extends 'boolean' ? boolean : S[K]['type'] extends 'number' ? number | undefined : string | undefined;
};

export interface ParsedArgs<S extends FlagSpecs> {
  flags: ParsedFlags<S>;
  positional: string[];
}

/** A mistake in how the command was called: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses `--name value`, `--name=value`, `-n value`, boolean `--name`, and positionals; `--` ends the flags
 * (so a text that starts with "-" can follow it). A lone "-" is a positional.
 */
export function parseArgs<S extends FlagSpecs>(argv: readonly string[], specs: S): ParsedArgs<S> {
  const flags: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) flags[name] = spec.type === 'boolean' ? false : undefined;
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);

  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq >= 0 ? arg.slice(0, eq) : arg;
    const name = key.startsWith('--') ? key.slice(2) : byShort.get(key.slice(1));
    const spec = name === undefined ? undefined : specs[name];
    if (name === undefined || spec === undefined) throw new UsageError(`unknown option ${key}`);

    if (spec.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`option ${key} takes no value`);
      flags[name] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) raw = argv[++i];
    else throw new UsageError(`option ${key} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    if (spec.type === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`option ${key} wants a number, got ${JSON.stringify(raw)}`);
      flags[name] = n;
    } else {
      flags[name] = raw;
    }
  }
  return { flags: flags as ParsedFlags<S>, positional };
}

/** Help lines for a command's flags, aligned. */
export function formatFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.type === 'boolean' ? '' : ` ${s.value ?? s.type.toUpperCase()}`}`;
    return [left, s.help] as const;
  });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`).join('\n');
}

/** The value of a flag the command cannot run without. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`missing --${flag}`);
  return value;
}
