#!/usr/bin/env python3
"""The PyTorch peer for `prefkit-bench train`: GPT2LMHeadModel with the same configuration,
forward + backward of the same token-level loss, torch.set_num_threads(THREADS)."""
import statistics, sys, time, json
import torch
from transformers import GPT2Config, GPT2LMHeadModel

L, C, H, V, T, B, threads = 4, 128, 4, 4096, 256, 8, int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(n_layer=L, n_embd=C, n_head=H, vocab_size=V, n_positions=T, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0))
model.train()
x = torch.randint(0, V, (B, T)); y = torch.randint(0, V, (B, T))
times = []
for step in range(12):
    t0 = time.time()
    logits = model(x).logits
    loss = torch.nn.functional.cross_entropy(logits.view(-1, V), y.view(-1))
    model.zero_grad(set_to_none=False)
    loss.backward()
    if step >= 2:
        times.append(time.time() - t0)
med = statistics.median(times)
print(json.dumps({"torch": torch.__version__, "threads": threads, "step_seconds_median": med, "tokens_per_second": round(B * T / med)}))
