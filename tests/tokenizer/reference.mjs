// The reference side of tests/tokenizer/reference_test.cc: token ids from the two reference
// tokenizers installed in deps/tiktoken, for the C++ tokenizer to be compared against.
//
//   node reference.mjs CORPUS_DIR OUT.json
//
// - js-tiktoken: the pure JavaScript port the vocabularies come from;
// - tiktoken: OpenAI's Rust core (regex and merges) built to WebAssembly, what OpenAI runs.
// Both with no special tokens recognised (encode_ordinary).
//
// For each corpus file (which must be valid UTF-8: a JavaScript string cannot hold anything
// else), the ids of every line (split on "\n", as the C++ side splits) and of the whole file.
// Then a seeded random set of short strings drawn from characters where regex engines tend to
// differ (Unicode spaces, marks, apostrophes, ZWJ, BOM), with tiktoken's ids only: js-tiktoken
// follows JavaScript's \s, which takes U+FEFF for a space where tiktoken does not.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(new URL("../../deps/tiktoken/package.json", import.meta.url));
const { Tiktoken } = require("js-tiktoken/lite");
const { get_encoding } = require("tiktoken");

const [corpusDir, outPath] = process.argv.slice(2);
if (!corpusDir || !outPath) {
  console.error("usage: node reference.mjs CORPUS_DIR OUT.json");
  process.exit(2);
}

const kEncodings = ["o200k_base", "cl100k_base"];
const js = Object.fromEntries(
  kEncodings.map((name) => [name, new Tiktoken(require(`js-tiktoken/ranks/${name}`))]),
);
const wasm = Object.fromEntries(kEncodings.map((name) => [name, get_encoding(name)]));
const jsIds = (name, text) => js[name].encode(text, [], []);
const wasmIds = (name, text) => Array.from(wasm[name].encode_ordinary(text));

const files = [];
for (const name of readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort()) {
  const bytes = readFileSync(join(corpusDir, name));
  const text = bytes.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(bytes)) {
    console.error(`${name}: not valid UTF-8; the references cannot read it as it is`);
    process.exit(1);
  }
  const lines = text.split("\n");
  const encodings = {};
  for (const enc of kEncodings) {
    encodings[enc] = {
      js: { lines: lines.map((l) => jsIds(enc, l)), whole: jsIds(enc, text) },
      tiktoken: { lines: lines.map((l) => wasmIds(enc, l)), whole: wasmIds(enc, text) },
    };
  }
  files.push({ name, encodings });
}

// mulberry32: a small seeded generator, so every run tests the same strings.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const kPool = [
  "a", "b", "Z", "Q", "é", "É", "ß", "ǅ", "ʰ", "ª", "ı", "İ", "1", "9", "٣", "²", "½", "Ⅻ",
  " ", "  ", "\t", "\n", "\r", "\r\n", "\u000b", "\u000c", "\u0085", "\u00a0", "\u1680", "\u180e",
  "\u2000", "\u2009", "\u200b", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff",
  "'", "'s", "'S", "'ll", "'LL", "'re", "'Ve", "'d", "’", "\"", "-", ".", ",", "!", "?", "/",
  "\\", "_", "#", "(", ")", "<", ">", "…", "—", "\u0301", "\u0308", "\u200d", "\ufe0f",
  "你", "好", "の", "カ", "한", "글", "ا", "ل", "ह", "ि", "ก", "ั", "Ж", "λ", "👍", "🏽", "👩",
  "🇯", "🇵", "𝐀", "𠀀", "\u{e0067}",
];
const next = rng(0x51c3);
const fuzz = [];
for (let i = 0; i < 3000; ++i) {
  let text = "";
  const length = 1 + Math.floor(next() * 40);
  for (let j = 0; j < length; ++j) text += kPool[Math.floor(next() * kPool.length)];
  const entry = { text };
  for (const enc of kEncodings) entry[enc] = wasmIds(enc, text);
  fuzz.push(entry);
}

writeFileSync(outPath, JSON.stringify({ files, fuzz }));
