"""Small random-initialized Hugging Face models of every architecture prefkit reads, saved with
transformers, and the reference log-probabilities of packed replies under them (fp32, eager).

usage: tiny_models.py OUT_DIR SEED

Writes OUT_DIR/<name>/ (config.json + safetensors) for each case, OUT_DIR/cases.json with, per
case, sequences (prompt ids, reply ids) and transformers' summed log-probability of each reply
after its prompt. Weights are drawn wider than transformers' initializer (norm weights around 1,
biases non-zero) so that every part of the graph changes the log-probabilities measurably.
"""
import json
import os
import sys

import torch
from transformers import (GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM)

out, seed = sys.argv[1], int(sys.argv[2])
torch.manual_seed(seed)
V = 300

common = dict(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=256)
cases = {
    # Untied head, grouped-query attention, Llama 3.1's rope scaling with a small original context
    # (so that the scaling changes frequencies), head_dim not hidden / heads, biases by config.
    "llama3": (LlamaForCausalLM, LlamaConfig(**common, intermediate_size=96, num_key_value_heads=2, head_dim=24, tie_word_embeddings=False,
                                               attention_bias=True, mlp_bias=True, rope_theta=500000.0,
                                               rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                             "high_freq_factor": 4.0, "original_max_position_embeddings": 32}), {}),
    # Tied, plain rope, stored in bf16 and sharded.
    "llama_tied_bf16_sharded": (LlamaForCausalLM, LlamaConfig(**common, intermediate_size=96, num_key_value_heads=1, tie_word_embeddings=True),
                                {"dtype": torch.bfloat16, "max_shard_size": "40KB"}),
    "llama_linear_f16": (LlamaForCausalLM, LlamaConfig(**common, intermediate_size=80, num_key_value_heads=4,
                                                        rope_scaling={"rope_type": "linear", "factor": 4.0}), {"dtype": torch.float16}),
    "mistral": (MistralForCausalLM, MistralConfig(**common, intermediate_size=96, num_key_value_heads=2, sliding_window=4096), {}),
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(**common, intermediate_size=96, num_key_value_heads=2, tie_word_embeddings=True), {}),
    "neox": (GPTNeoXForCausalLM, GPTNeoXConfig(**common, intermediate_size=160, rotary_pct=0.25, use_parallel_residual=True), {}),
    "neox_serial_tanh": (GPTNeoXForCausalLM, GPTNeoXConfig(**common, intermediate_size=128, rotary_pct=0.5, use_parallel_residual=False,
                                                           hidden_act="gelu_new"), {}),
}

result = {}
for name, (cls, cfg, save) in cases.items():
    cfg._attn_implementation = "eager"
    m = cls(cfg).eval()
    with torch.no_grad():
        for pname, p in m.named_parameters():
            if "norm" in pname and pname.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif pname.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / (p.shape[-1] ** 0.5) * (2.0 if "embed" in pname else 1.0))
    dtype = save.get("dtype")
    d = os.path.join(out, name)
    if dtype is not None:
        # The reference runs on the stored (rounded) weights, in fp32; a fresh fp32 model keeps its
        # rotary frequencies in fp32 (casting the model would round those too).
        rounded = {k: v.to(dtype).to(torch.float32) for k, v in m.state_dict().items()}
        m.to(dtype).save_pretrained(d, max_shard_size=save.get("max_shard_size", "5GB"))
        m = cls(cfg).eval()
        m.load_state_dict(rounded)
    else:
        m.save_pretrained(d, max_shard_size=save.get("max_shard_size", "5GB"))
    seqs = []
    for k in range(6):
        plen = int(torch.randint(1, 40, ()).item())
        prompt = torch.randint(0, V, (plen,)).tolist()
        replies = [torch.randint(0, V, (int(torch.randint(1, 30, ()).item()),)).tolist() for _ in range(2)]
        lps = []
        with torch.no_grad():
            for r in replies:
                ids = torch.tensor([prompt + r])
                lp = torch.log_softmax(m(ids).logits[0].double(), -1)
                lps.append(sum(lp[plen + i - 1, t].item() for i, t in enumerate(r)))
        seqs.append({"prompt": prompt, "replies": replies, "logps": lps})
    result[name] = seqs

json.dump(result, open(os.path.join(out, "cases.json"), "w"))
