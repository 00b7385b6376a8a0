"""Byte-level BPE tokenizers with the pre-tokenizers of Llama 3, Qwen2 and SmolLM, trained by
Hugging Face `tokenizers` on the given texts, and their ids for those texts.

usage: tiny_tokenizers.py TEXTS.json OUT_DIR

Writes OUT_DIR/<name>/tokenizer.json and OUT_DIR/ids.json ({name: [[ids] per text]}).
"""
import json
import os
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

texts = json.load(open(sys.argv[1]))
out = sys.argv[2]
configs = {
    "llama3": (None, pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
                                              pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), True),
    "qwen2": (normalizers.NFC(), pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
                                                          pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), False),
    "smollm": (None, pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                              pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]), False),
}
ids = {}
for name, (norm, pre, ignore_merges) in configs.items():
    tok = Tokenizer(models.BPE())
    if norm is not None:
        tok.normalizer = norm
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.train_from_iterator(texts * 3, trainer)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    tok.save(path)
    if ignore_merges:
        j = json.load(open(path))
        j["model"]["ignore_merges"] = True
        json.dump(j, open(path, "w"), ensure_ascii=False)
        tok = Tokenizer.from_file(path)
    ids[name] = [tok.encode(t, add_special_tokens=False).ids for t in texts]
json.dump(ids, open(os.path.join(out, "ids.json"), "w"))
