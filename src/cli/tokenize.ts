// `retouch tokenize`: prints the 77 ids the pipeline would feed the text encoder, and the Node-side loader that
// reads a diffusers tokenizer/ folder from disk (the engine's tokenizer itself never touches node:fs).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClipTokenizer } from '../engine/tokenizer/clip_tokenizer.ts';
import { formatFlags, parseArgs, required, UsageError, type FlagSpecs } from './args.ts';

function readJson(path: string): object {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as object;
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** Reads vocab.json + merges.txt (required) and tokenizer_config.json / special_tokens_map.json (if present). */
export async function loadTokenizerFromDir(dir: string): Promise<ClipTokenizer> {
  for (const name of ['vocab.json', 'merges.txt']) {
    if (!existsSync(join(dir, name))) throw new Error(`${join(dir, name)} not found`);
  }
  const optional = (name: string): object | undefined => (existsSync(join(dir, name)) ? readJson(join(dir, name)) : undefined);
  return ClipTokenizer.fromFiles({
    vocab: readJson(join(dir, 'vocab.json')) as Record<string, number>,
    merges: readFileSync(join(dir, 'merges.txt'), 'utf8'),
    config: optional('tokenizer_config.json'),
    specialTokensMap: optional('special_tokens_map.json'),
  });
}

/** The tokenizer of a diffusers model folder (MODEL/tokenizer/), with errors that name what is missing. */
export async function loadModelTokenizer(modelDir: string): Promise<ClipTokenizer> {
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) throw new Error(`model folder not found: ${modelDir}`);
  const dir = join(modelDir, 'tokenizer');
  if (!existsSync(dir)) throw new Error(`${modelDir} has no tokenizer/ folder (is it a diffusers model folder?)`);
  return loadTokenizerFromDir(dir);
}

const FLAGS = {
  model: { type: 'string', short: 'm', value: 'DIR', help: 'diffusers model folder (its tokenizer/ is used)' },
  count: { type: 'boolean', help: 'print the untruncated content-token count (n of 75) instead of the ids' },
} satisfies FlagSpecs;

export const usage = `usage: retouch tokenize --model DIR TEXT...
Prints, per TEXT, one line: the JSON array of the 77 ids given to the text encoder.
${formatFlags(FLAGS)}`;

export async function runTokenize(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, FLAGS);
  const model = required(flags.model, 'model');
  if (positional.length === 0) throw new UsageError('needs at least one TEXT');
  const tokenizer = await loadModelTokenizer(model);
  for (const text of positional) {
    const line = flags.count ? String(tokenizer.countTokens(text)) : JSON.stringify(Array.from(tokenizer.encode(text)));
    process.stdout.write(line + '\n');
  }
  return 0;
}
