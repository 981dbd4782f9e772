// A small keyword heuristic for instructions that ask what InstructPix2Pix does badly (the authors' list of
// limitations): counting, exact positions or directions, new viewpoints, a face kept through a large change.
// It only warns; the edit still runs.

export interface InstructionWarning {
  kind: 'count' | 'position' | 'viewpoint' | 'identity';
  text: string;
}

const NUMBER_WORDS = 'two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|\\d+';

const RULES: { kind: InstructionWarning['kind']; re: RegExp; text: string }[] = [
  {
    kind: 'count',
    re: new RegExp(`\\b(?:(?:${NUMBER_WORDS})\\s+(?:more\\s+|extra\\s+|other\\s+)?[a-z]+s\\b|count|number of|how many|fewer|twice as many)`, 'i'),
    text: 'Counting is unreliable: the model rarely produces an exact number of objects.',
  },
  {
    kind: 'position',
    re: /\b(?:left|right|above|below|beneath|under(?:neath)?|behind|in front of|next to|beside|on top of|top|bottom|corner|middle of|center of|centre of|move|shift|swap|mirror|flip|rotate|upside down)\b/i,
    text: 'Exact positions and directions (left/right, above, move, rotate) are not followed reliably.',
  },
  {
    kind: 'viewpoint',
    re: /\b(?:viewpoint|point of view|camera angle|angle|perspective|from above|from below|from behind|from the side|side view|top view|bird'?s[- ]eye|aerial view|close[- ]?up|zoom(?:ed)? (?:in|out)|wide shot|turn (?:him|her|them|it) around)\b/i,
    text: 'It cannot show a new viewpoint: the camera position stays as in the photo.',
  },
  {
    kind: 'identity',
    re: /\b(?:(?:turn|make|change)\s+(?:him|her|them|me|us|the (?:man|woman|person|people|boy|girl|child|kid)|(?:my|his|her|their) faces?)\s+(?:into|look like|look|as|older|younger|an? )|as an? (?:baby|child|kid|teenager|old (?:man|woman))\b|different (?:person|face)|face ?swap|swap (?:the )?faces?|replace (?:his|her|their|my|the) faces?)/i,
    text: 'Large changes to a person usually lose their face: identity is not kept. Try Image guidance higher.',
  },
];

export function instructionWarnings(prompt: string): InstructionWarning[] {
  const text = prompt.trim();
  if (!text) return [];
  return RULES.filter((r) => r.re.test(text)).map(({ kind, text }) => ({ kind, text }));
}
