/**
 * Each chapter's default prompt and prompt limit, shared by the build-time trace loaders (src/data/traces/*)
 * and the pages, so the precomputed trace is exactly the default view. DOM-free.
 *
 * API: CHAPTER_PROMPTS[chapter] = {prompt, maxTokens}; chapters 2, 6, 7, 8 may change their own entries.
 */
export interface ChapterPrompt {
  /** the default prompt (in the model's vocabulary) */
  prompt: string;
  /** the longest prompt the chapter's figures handle (longer prompts are cut, with a message) */
  maxTokens: number;
}

export const CHAPTER_PROMPTS = {
  overview: { prompt: "ROMEO:\nBut soft, what light through yonder window breaks?\n", maxTokens: 256 },
  attention: { prompt: "KING RICHARD:\nNow is the winter of our discontent", maxTokens: 128 },
  tokenShift: { prompt: "First Citizen:\nBefore we proceed any further, hear me speak.", maxTokens: 128 },
  timeDecay: { prompt: "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?", maxTokens: 128 },
  wkv: { prompt: "HAMLET:\nTo be, or not to be, that is the question.", maxTokens: 128 },
  channelMixing: { prompt: "MENENIUS:\nThere was a time when all the body's members", maxTokens: 128 },
  wholeModel: { prompt: "ROMEO:\nBut soft, what light", maxTokens: 128 },
  rnnParallel: { prompt: "QUEEN ELIZABETH:\nCome, come, we know your meaning", maxTokens: 128 },
  // chapter 9: "hast thou offend" asks for "ed"; the GPT reads prompt and target in its 256 positions
  memory: { prompt: "BIANCA:\nPardon, dear father.\n\nBAPTISTA:\nWhy, how hast thou offend", maxTokens: 96 },
} as const satisfies Record<string, ChapterPrompt>;

export type ChapterKey = keyof typeof CHAPTER_PROMPTS;
