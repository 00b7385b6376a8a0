#!/usr/bin/env python3
"""TRL's DPOTrainer on prefkit's normalized output, as-is: checks that TRL accepts the
conversational format, and measures DPO pairs/s on the CPU with 2 threads for comparison with
`prefkit score`. Usage: trl_dpo.py MODEL_DIR PAIRS.jsonl [STEPS]"""
import json, sys, time, tempfile
import torch
from datasets import load_dataset
from transformers import AutoTokenizer, GPT2LMHeadModel, TrainerCallback
from trl import DPOConfig, DPOTrainer

model_dir, pairs = sys.argv[1], sys.argv[2]
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
torch.set_num_threads(2)
tok = AutoTokenizer.from_pretrained(model_dir)
model = GPT2LMHeadModel.from_pretrained(model_dir)
ds = load_dataset("json", data_files=pairs, split="train")
ds = ds.remove_columns([c for c in ds.column_names if c not in ("prompt", "chosen", "rejected")])

class Timer(TrainerCallback):
    def __init__(self): self.t = []
    def on_step_begin(self, *a, **k): self.s = time.time()
    def on_step_end(self, *a, **k): self.t.append(time.time() - self.s)

timer = Timer()
args = DPOConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=4, max_steps=steps, beta=0.1,
                 learning_rate=1e-4, logging_steps=5, report_to=[], save_strategy="no", use_cpu=True,
                 max_length=256, dataloader_num_workers=0, bf16=False, fp16=False)
trainer = DPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[timer])
trainer.train()
ts = sorted(timer.t[2:] or timer.t)
med = ts[len(ts) // 2]
print(json.dumps({"trl": __import__("trl").__version__, "accepted_rows": len(ds), "step_seconds_median": med,
                  "pairs_per_second": round(4 / med, 2), "last_log": trainer.state.log_history[-1]}))
