#!/usr/bin/env python3
"""Writes fixtures/ranked/: small files in the layouts of the ranked and rated corpora that have no
real sample in ../shared/realdata (raw UltraFeedback, Nectar, HelpSteer2, distilabel), with the
edge cases the pairing rules must handle: ties, unrated replies ("N/A", null), a single reply,
equal scores throughout, multi-turn prompts. Field names and value types follow the public
dataset cards (openbmb/UltraFeedback, berkeley-nest/Nectar, nvidia/HelpSteer2, distilabel's
UltraFeedback task output). Run from the repository root: python3 scripts/make_ranked_fixtures.py
"""
import json, os

OUT = "fixtures/ranked"


def uf_completion(model, response, overall, aspects):
    return {
        "annotations": {name: {"Rating": r, "Rationale": f"{name} rationale"} for name, r in aspects.items()},
        "critique": "critique text",
        "custom_system_prompt": "You are a helpful assistant.",
        "fine-grained_score": (sum(float(r) for r in aspects.values() if r != "N/A") / max(1, sum(r != "N/A" for r in aspects.values()))) if aspects else None,
        "model": model,
        "overall_score": overall,
        "principle": "helpfulness",
        "response": response,
    }


def ultrafeedback():
    rows = [
        {"source": "evol_instruct", "instruction": "Name three primary colours.", "models": ["a", "b", "c", "d"],
         "completions": [
             uf_completion("gpt-4", "Red, yellow and blue.", 9.0, {"helpfulness": "5", "honesty": "5", "instruction_following": "5", "truthfulness": "5"}),
             uf_completion("llama-2-7b", "Green.", 3.0, {"helpfulness": "2", "honesty": "3", "instruction_following": "2", "truthfulness": "1"}),
             uf_completion("falcon-40b", "Red, green, blue (for light).", 7.5, {"helpfulness": "4", "honesty": "5", "instruction_following": "4", "truthfulness": "N/A"}),
             uf_completion("wizardlm", "Colours are nice.", 3.0, {"helpfulness": "1", "honesty": "3", "instruction_following": "1", "truthfulness": "3"}),
         ], "correct_answers": ["None"], "incorrect_answers": ["None"]},
        # every completion rated alike: a tie, removed
        {"source": "sharegpt", "instruction": "Say hi.", "models": ["a", "b"],
         "completions": [uf_completion("a", "Hi!", 8.0, {"helpfulness": "4"}), uf_completion("b", "Hello!", 8.0, {"helpfulness": "4"})],
         "correct_answers": [], "incorrect_answers": []},
        # an unrated completion ("N/A" overall) is left out
        {"source": "flan_v2_niv2", "instruction": "Translate 'chat' to English.", "models": ["a", "b", "c"],
         "completions": [uf_completion("a", "cat", 10.0, {"helpfulness": "5"}), uf_completion("b", "chat", "N/A", {"helpfulness": "N/A"}),
                         uf_completion("c", "dog", 2.0, {"helpfulness": "1"})],
         "correct_answers": ["cat"], "incorrect_answers": ["dog"]},
        # one completion: no pair
        {"source": "ultrachat", "instruction": "Only one.", "models": ["a"], "completions": [uf_completion("a", "Alone.", 6.0, {"helpfulness": "3"})],
         "correct_answers": [], "incorrect_answers": []},
    ]
    with open(f"{OUT}/ultrafeedback_raw.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def nectar():
    rows = [
        {"prompt": "\n\nHuman: What is the capital of France?\n\nAssistant:", "answers": [
            {"answer": "Paris.", "model": "gpt-4", "rank": 1.0},
            {"answer": "Lyon.", "model": "alpaca-13b", "rank": 3.0},
            {"answer": "It is Paris, on the Seine.", "model": "gpt-3.5-turbo", "rank": 2.0},
            {"answer": "France.", "model": "dolly-v2-12b", "rank": 4.0}],
         "turns": 1, "num_responses": 4, "source": ["sharegpt"], "good_natured": True},
        {"prompt": "\n\nHuman: hi\n\nAssistant: Hello! How can I help?\n\nHuman: tell me a joke\n\nAssistant:", "answers": [
            {"answer": "Why did the chicken cross the road?", "model": "vicuna-13b", "rank": 2.0},
            {"answer": "A joke: knock knock.", "model": "claude-1", "rank": 1.0},
            {"answer": "No.", "model": "llama-13b", "rank": 7.0}],
         "turns": 2, "num_responses": 3, "source": ["anthropic-hh"], "good_natured": True},
        {"prompt": "\n\nHuman: Equal?\n\nAssistant:", "answers": [
            {"answer": "Yes.", "model": "a", "rank": 1.0}, {"answer": "Yes!", "model": "b", "rank": 1.0}],
         "turns": 1, "num_responses": 2, "source": ["lmsys-chat-1m"], "good_natured": False},
    ]
    with open(f"{OUT}/nectar.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def helpsteer2():
    def row(prompt, response, h, c, co, cx, v):
        return {"prompt": prompt, "response": response, "helpfulness": h, "correctness": c, "coherence": co, "complexity": cx, "verbosity": v}
    rows = [
        row("What is 2+2?", "4.", 4, 4, 4, 0, 0),
        row("What is 2+2?", "2+2 is 5, as everyone knows, and here is a long story about it.", 0, 0, 3, 1, 3),
        row("Write a haiku.<extra_id_1>Assistant\nAn old pond / a frog jumps in / splash<extra_id_1>User\nAnother one, about snow.",
            "White snow on the pines / silence fills the valley / winter holds its breath", 4, 4, 4, 2, 1),
        row("Write a haiku.<extra_id_1>Assistant\nAn old pond / a frog jumps in / splash<extra_id_1>User\nAnother one, about snow.",
            "Snow.", 1, 2, 3, 0, 0),
        # identical attribute scores: a tie, both rows removed
        row("Name a fruit.", "Apple.", 3, 4, 4, 0, 0),
        row("Name a fruit.", "Pear.", 3, 4, 4, 0, 0),
        # three replies to one prompt: best-worst pairs two, the third is unpaired
        row("Define entropy.", "A measure of disorder; in information theory, expected surprise.", 4, 4, 4, 2, 1),
        row("Define entropy.", "Heat.", 1, 1, 3, 0, 0),
        row("Define entropy.", "A thermodynamic quantity.", 2, 3, 4, 1, 0),
        # one reply: no pair
        row("Lonely prompt.", "Lonely reply.", 2, 2, 2, 2, 2),
    ]
    with open(f"{OUT}/helpsteer2.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def distilabel():
    rows = [
        {"instruction": "Give a synonym of 'fast'.", "generations": ["Quick.", "Slow.", "Rapid, swift."], "ratings": [4, 1, 5],
         "rationales": ["ok", "wrong", "best"], "generation_models": ["m1", "m2", "m3"], "model_name": "gpt-4"},
        {"instruction": "Rating failed for one.", "generations": ["A", "B"], "ratings": [None, 3], "rationales": [None, "fine"],
         "generation_models": ["m1", "m2"], "model_name": "gpt-4"},
        {"instruction": "All equal.", "generations": ["A", "B", "C"], "ratings": [3, 3, 3], "rationales": ["", "", ""],
         "generation_models": ["m1", "m2", "m3"], "model_name": "gpt-4"},
    ]
    with open(f"{OUT}/distilabel.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def labels():
    """Judge/label pairs (output_1/output_2 + label), AlpacaEval-annotation style, plus a voted list."""
    rows = [
        {"instruction": "Capital of Italy?", "output_1": "Rome.", "output_2": "Milan.", "preference": 1},
        {"instruction": "Largest planet?", "output_1": "Saturn.", "output_2": "Jupiter.", "preference": 2},
        {"instruction": "Both fine?", "output_1": "Yes.", "output_2": "Yes!", "preference": 0},
        {"instruction": "Voted", "output_1": "One.", "output_2": "Two.", "preference": [2, 2, 1]},
        {"instruction": "Unknown label", "output_1": "x", "output_2": "y", "preference": 7},
    ]
    with open(f"{OUT}/labels.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    ultrafeedback(); nectar(); helpsteer2(); distilabel(); labels()
