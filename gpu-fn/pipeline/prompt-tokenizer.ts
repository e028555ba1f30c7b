/**
 * Prompt -> token ids for the Qwen3 text encoder: the chat template of spec §4.1, tokenized as ONE string
 * (special tokens matched as atoms, the rest byte-level BPE), at most `maxLength` ids, cut from the right.
 * @module
 */
import { readFile } from "node:fs/promises";
import { Tokenizer } from "@huggingface/tokenizers";

/** What diffusers' `apply_chat_template(..., add_generation_prompt=True, enable_thinking=True)` renders. */
export function renderChatPrompt(prompt: string): string {
  return `<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n`;
}

export interface EncodedPrompt {
  ids: number[];
  /** The template + prompt was longer than `maxLength` and lost tokens at the end. */
  truncated: boolean;
}

export class PromptTokenizer {
  readonly #tokenizer: Tokenizer;
  readonly maxLength: number;

  constructor(tokenizer: Tokenizer, maxLength = 512) {
    this.#tokenizer = tokenizer;
    this.maxLength = maxLength;
  }

  /** Loads `tokenizer.json` + `tokenizer_config.json` (Hugging Face format). */
  static async fromFiles(
    tokenizerJson: string,
    tokenizerConfig: string,
    maxLength = 512,
  ): Promise<PromptTokenizer> {
    const [json, config] = await Promise.all([readJson(tokenizerJson), readJson(tokenizerConfig)]);
    return new PromptTokenizer(new Tokenizer(json, config), maxLength);
  }

  /** Number of ids the tokenizer can produce (largest id + 1, added tokens included). */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.#tokenizer.get_vocab(true).values()) if (id > max) max = id;
    return max + 1;
  }

  encode(prompt: string): EncodedPrompt {
    return this.encodePrompt(prompt);
  }

  /** Token ids of `text` as-is (no template, no special tokens added). */
  encodeRaw(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** The templated prompt's ids, truncated like `tokenizer(text, truncation=True, max_length)`. */
  encodePrompt(prompt: string): EncodedPrompt {
    const ids = this.encodeRaw(renderChatPrompt(prompt));
    if (ids.length <= this.maxLength) return { ids, truncated: false };
    return { ids: ids.slice(0, this.maxLength), truncated: true };
  }

  decode(ids: number[]): string {
    return this.#tokenizer.decode(ids, { skip_special_tokens: false });
  }
}

async function readJson(file: string): Promise<object> {
  return JSON.parse(await readFile(file, "utf8")) as object;
}
