// The CLIP tokenizer against the reference's ids (golden/cases.json "tokenizer", made with transformers 4.44's slow
// CLIPTokenizer without ftfy), from both model folders and from both tokenizer_config styles.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../src/engine/tokenizer/clip_tokenizer.ts';
import { loadTokenizerFromDir } from '../../src/cli/tokenize.ts';

interface GoldenPrompt {
  index: number;
  prompt: string;
  input_ids: number[];
  untruncated_ids: number[];
  num_tokens_untruncated_incl_bos_eos: number;
}
interface GoldenTokenizer {
  model_max_length: number;
  bos_id: number;
  eos_id: number;
  pad_id: number;
  prompts: GoldenPrompt[];
}

const root = join(import.meta.dirname, '../..');
const tinyDir = join(root, 'models/tiny-ip2p/tokenizer');
const golden = (JSON.parse(readFileSync(join(root, 'models/tiny-ip2p/golden/cases.json'), 'utf8')) as { tokenizer: GoldenTokenizer }).tokenizer;
const vocab = JSON.parse(readFileSync(join(tinyDir, 'vocab.json'), 'utf8')) as Record<string, number>;
const mergesText = readFileSync(join(tinyDir, 'merges.txt'), 'utf8');

// tokenizer_config.json as transformers 4.44 writes it: plain strings plus added_tokens_decoder.
const specialEntry = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true });
const newStyleConfig = {
  add_prefix_space: false,
  added_tokens_decoder: { '49406': specialEntry('<|startoftext|>'), '49407': specialEntry('<|endoftext|>') },
  bos_token: '<|startoftext|>',
  clean_up_tokenization_spaces: true,
  do_lower_case: true,
  eos_token: '<|endoftext|>',
  errors: 'replace',
  model_max_length: 77,
  pad_token: '<|endoftext|>',
  tokenizer_class: 'CLIPTokenizer',
  unk_token: '<|endoftext|>',
};

const ids = (t: ClipTokenizer, text: string) => Array.from(t.encode(text));

let tiny: ClipTokenizer;
beforeAll(async () => {
  const t0 = performance.now();
  tiny = await loadTokenizerFromDir(tinyDir);
  console.log(`[tokenizer] tiny-ip2p tokenizer loaded (read + parse + build) in ${(performance.now() - t0).toFixed(0)} ms`);
});

describe('golden prompts (tiny-ip2p/tokenizer: old-style AddedToken config + special_tokens_map)', () => {
  it('has the reference special ids and length', () => {
    expect(golden.prompts).toHaveLength(10);
    expect(tiny.maxLength).toBe(golden.model_max_length);
    expect(tiny.bosId).toBe(golden.bos_id);
    expect(tiny.eosId).toBe(golden.eos_id);
    expect(tiny.padId).toBe(golden.pad_id);
  });

  it.each(golden.prompts.map((p) => [p.index, p] as const))('prompt %i gives exactly input_ids', (_i, p) => {
    const out = tiny.encode(p.prompt);
    expect(out).toBeInstanceOf(Int32Array);
    expect(Array.from(out)).toEqual(p.input_ids);
  });

  it.each(golden.prompts.map((p) => [p.index, p] as const))('prompt %i: untruncated content ids and count', (_i, p) => {
    expect(tiny.contentIds(p.prompt)).toEqual(p.untruncated_ids.slice(1, -1));
    expect(tiny.countTokens(p.prompt)).toBe(p.num_tokens_untruncated_incl_bos_eos - 2);
  });

  it('truncates a long prompt to BOS + 75 + EOS (prompt 4 has 87 content tokens)', () => {
    const p = golden.prompts.find((q) => q.num_tokens_untruncated_incl_bos_eos > 77)!;
    expect(p).toBeDefined();
    const out = ids(tiny, p.prompt);
    expect(out.slice(0, 76)).toEqual(p.untruncated_ids.slice(0, 76));
    expect(out[76]).toBe(golden.eos_id);
  });
});

describe('other folders and config styles give the same ids', () => {
  it('models/instruct-pix2pix/tokenizer (vocab.json + merges.txt only: defaults)', async () => {
    const t = await loadTokenizerFromDir(join(root, 'models/instruct-pix2pix/tokenizer'));
    expect([t.bosId, t.eosId, t.padId, t.maxLength]).toEqual([golden.bos_id, golden.eos_id, golden.pad_id, 77]);
    for (const p of golden.prompts) expect(ids(t, p.prompt)).toEqual(p.input_ids);
  });

  it('a newer-style tokenizer_config (plain strings, added_tokens_decoder), merges given as lines', () => {
    const lines = mergesText.trim().split('\n').slice(1);
    const t0 = performance.now();
    const t = ClipTokenizer.fromFiles({ vocab, merges: lines, config: newStyleConfig });
    console.log(`[tokenizer] construction from parsed files: ${(performance.now() - t0).toFixed(0)} ms (49408 vocab, ${lines.length} merges)`);
    expect(lines).toHaveLength(48894);
    for (const p of golden.prompts) expect(ids(t, p.prompt)).toEqual(p.input_ids);
  });

  it('pads with the configured pad token (SD 2 style pad "!")', () => {
    const t = ClipTokenizer.fromFiles({ vocab, merges: mergesText, config: { ...newStyleConfig, pad_token: '!' } });
    expect(t.padId).toBe(vocab['!']);
    const p = golden.prompts[0];
    const n = p.num_tokens_untruncated_incl_bos_eos; // BOS..EOS, then padding
    expect(ids(t, p.prompt)).toEqual([...p.input_ids.slice(0, n), ...new Array(77 - n).fill(vocab['!'])]);
  });

  it('construction stays fast', () => {
    const t0 = performance.now();
    ClipTokenizer.fromFiles({ vocab, merges: mergesText, config: newStyleConfig });
    const ms = performance.now() - t0;
    console.log(`[tokenizer] construction: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000);
  });
});

describe('text cleanup follows BasicTokenizer (no ftfy)', () => {
  const sunset = golden.prompts[0]; // "make the sky a sunset"

  it('lowercases, maps Unicode spaces to spaces and drops control characters', () => {
    expect(sunset.prompt).toBe('make the sky a sunset');
    expect(ids(tiny, 'MAKE the\u3000Sky\u00a0a\u2028sunset\u0007')).toEqual(sunset.input_ids);
    expect(ids(tiny, '\ufeffmake the sky a sun\u200bset\ufffd')).toEqual(sunset.input_ids);
  });

  it('splits supplementary-plane CJK ideographs into words too (U+20000)', () => {
    expect(ids(tiny, 'a\u{20000}b')).toEqual(ids(tiny, 'a \u{20000} b'));
    // Spaced, "a" and "b" are whole words (a</w>, b</w>); unspaced, [\p{L}]+ would make "a\u{20000}b" one piece.
    const content = tiny.contentIds('a\u{20000}b');
    expect(content[0]).toBe(vocab['a</w>']);
    expect(content[content.length - 1]).toBe(vocab['b</w>']);
  });

  it('reports malformed inputs clearly', () => {
    expect(() => ClipTokenizer.fromFiles({ vocab, merges: ['a b c'], config: {} })).toThrow(/merge 1/);
    expect(() => ClipTokenizer.fromFiles({ vocab, merges: mergesText, config: { bos_token: '<|nope|>' } })).toThrow(/bos_token.*not in vocab/);
    expect(() => ClipTokenizer.fromFiles({ vocab, merges: mergesText, config: { eos_token: { foo: 1 } } })).toThrow(/eos_token/);
  });
});
