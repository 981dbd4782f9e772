// CLIP's BPE tokenizer built from a diffusers tokenizer/ folder (which has no tokenizer.json), giving the ids the
// reference pipeline feeds its text encoder: [BOS] + first 75 content ids + [EOS], padded with the pad id to 77.
// Browser-safe: the caller reads the files (src/cli/tokenize.ts does it with node:fs).
import { CLIPTokenizer } from '@huggingface/transformers';

/** The folder's files, already parsed where they are JSON. */
export interface ClipTokenizerFiles {
  /** vocab.json: token -> id (49408 entries for CLIP). */
  vocab: Record<string, number>;
  /** merges.txt as text (header line included), or already split into "a b" lines (no header). */
  merges: string[] | string;
  /** tokenizer_config.json; absent in some folders (then the CLIP defaults apply). */
  config?: object;
  /** special_tokens_map.json, if the folder has one; overrides config entries, as transformers does. */
  specialTokensMap?: object;
}

// transformers' CLIPTokenizer reads `lines[1 : 49152 - 256 - 2 + 1]` of merges.txt: the header, then 48894 merges.
const CLIP_NUM_MERGES = 49152 - 256 - 2;
// The reference's split regex (it runs with IGNORECASE; our text is lowercased before it, so no flag is needed).
const CLIP_SPLIT =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

const DEFAULT_TOKENS = {
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  pad_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
} as const;
type SpecialKey = keyof typeof DEFAULT_TOKENS;

/** A special token as configs spell it: a plain string (newer configs) or an AddedToken-like object (older ones). */
interface TokenSpec {
  content: string;
  lstrip: boolean;
  rstrip: boolean;
}

function tokenSpec(value: unknown, where: string): TokenSpec | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return { content: value, lstrip: false, rstrip: false };
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    const v = value as { content: string; lstrip?: boolean; rstrip?: boolean };
    return { content: v.content, lstrip: !!v.lstrip, rstrip: !!v.rstrip };
  }
  throw new Error(`tokenizer: ${where} is neither a string nor an object with a "content" string`);
}

/** merges.txt -> [a, b] pairs, as transformers' CLIPTokenizer reads it (drops line 0, keeps 48894 merges). */
function parseMerges(merges: string[] | string): [string, string][] {
  const lines = typeof merges === 'string'
    ? merges.trim().split(/\r?\n/).slice(1, 1 + CLIP_NUM_MERGES)
    : merges.filter((l, i) => !(i === 0 && l.startsWith('#version')));
  return lines.map((line, i) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw new Error(`tokenizer: merge ${i + 1} is not two symbols: ${JSON.stringify(line)}`);
    return [parts[0], parts[1]];
  });
}

// Python's _is_chinese_char ranges (code points, so supplementary-plane ideographs count too).
function isCjkIdeograph(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}
const OTHER_CATEGORY = /^\p{C}$/u; // Python's _is_control: category starts with "C" (tab, LF, CR excepted)
const SPACE_SEPARATOR = /^\p{Zs}$/u;

/**
 * The cleanup the reference applies without ftfy (transformers' BasicTokenizer with do_lower_case,
 * strip_accents=False, no punctuation split, then CLIPTokenizer's join and lower): drop NUL, U+FFFD and
 * "C*" characters, whitespace -> " ", spaces around CJK ideographs, NFC, split on whitespace, lowercase, join.
 * The library's BertNormalizer is close but tests CJK by UTF-16 unit and keeps unassigned (Cn) characters.
 */
export function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const isWs = ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
    if (cp === 0 || cp === 0xfffd || (!isWs && OTHER_CATEGORY.test(ch))) continue;
    if (isWs) out += ' ';
    else if (isCjkIdeograph(cp)) out += ` ${ch} `;
    else out += ch;
  }
  const words = out.normalize('NFC').split(/\s+/).filter((w) => w.length > 0);
  return words.map((w) => w.toLowerCase()).join(' ');
}

export class ClipTokenizer {
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly inner: CLIPTokenizer;

  private constructor(inner: CLIPTokenizer, maxLength: number, bosId: number, eosId: number, padId: number) {
    this.inner = inner;
    this.maxLength = maxLength;
    this.bosId = bosId;
    this.eosId = eosId;
    this.padId = padId;
  }

  /** Builds the tokenizer in memory; no network, no tokenizer.json. Synchronous (about 100 ms for CLIP's vocab). */
  static fromFiles(files: ClipTokenizerFiles): ClipTokenizer {
    const config = (files.config ?? {}) as Record<string, unknown>;
    const map = (files.specialTokensMap ?? {}) as Record<string, unknown>;
    const vocab = files.vocab;

    const specials = {} as Record<SpecialKey, TokenSpec>;
    for (const key of Object.keys(DEFAULT_TOKENS) as SpecialKey[]) {
      specials[key] = tokenSpec(map[key], `special_tokens_map ${key}`) ??
        tokenSpec(config[key], `tokenizer_config ${key}`) ?? { content: DEFAULT_TOKENS[key], lstrip: false, rstrip: false };
    }
    const idOf = (key: SpecialKey): number => {
      const id = vocab[specials[key].content];
      if (typeof id !== 'number') throw new Error(`tokenizer: ${key} ${JSON.stringify(specials[key].content)} is not in vocab.json`);
      return id;
    };

    // Added tokens are split out of the text before BPE (so a literal "<|startoftext|>" becomes id 49406).
    const added = new Map<string, { id: number; content: string; lstrip: boolean; rstrip: boolean; special: boolean }>();
    const decoder = (config.added_tokens_decoder ?? {}) as Record<string, unknown>;
    for (const [id, entry] of Object.entries(decoder)) {
      const spec = tokenSpec(entry, `added_tokens_decoder ${id}`)!;
      added.set(spec.content, { id: Number(id), ...spec, special: (entry as { special?: boolean }).special ?? true });
    }
    for (const key of Object.keys(DEFAULT_TOKENS) as SpecialKey[]) {
      if (!added.has(specials[key].content)) added.set(specials[key].content, { id: idOf(key), ...specials[key], special: true });
    }

    const tokenizerJSON = {
      version: '1.0',
      normalizer: null, // cleanText() runs before the library sees the text
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null, // BOS/EOS, truncation and padding are ours (see encode)
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      model: {
        type: 'BPE', dropout: null, unk_token: specials.unk_token.content, continuing_subword_prefix: '',
        end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, vocab, merges: parseMerges(files.merges),
      },
      added_tokens: [...added.values()].map((t) => ({ ...t, single_word: false, normalized: false })),
    };
    // The library's config reader wants plain strings for the special tokens.
    const tokenizerConfig = {
      tokenizer_class: 'CLIPTokenizer',
      model_max_length: (config.model_max_length as number | undefined) ?? 77,
      bos_token: specials.bos_token.content,
      eos_token: specials.eos_token.content,
      pad_token: specials.pad_token.content,
      unk_token: specials.unk_token.content,
      clean_up_tokenization_spaces: true,
    };
    const inner = new CLIPTokenizer(tokenizerJSON, tokenizerConfig);
    return new ClipTokenizer(inner, tokenizerConfig.model_max_length, idOf('bos_token'), idOf('eos_token'), idOf('pad_token'));
  }

  /** Content ids of a text: no BOS/EOS, not truncated. */
  contentIds(text: string): number[] {
    return this.inner.encode(cleanText(text), { add_special_tokens: false });
  }

  /** The pipeline's ids: [BOS] + content[:maxLength-2] + [EOS], then pad ids up to maxLength. */
  encode(text: string): Int32Array {
    const content = this.contentIds(text).slice(0, this.maxLength - 2);
    const ids = new Int32Array(this.maxLength).fill(this.padId); // [maxLength]
    ids[0] = this.bosId;
    ids.set(content, 1);
    ids[content.length + 1] = this.eosId;
    return ids;
  }

  /** Content tokens, untruncated (the UI shows n/75; more than 75 are cut by encode). */
  countTokens(text: string): number {
    return this.contentIds(text).length;
  }
}
