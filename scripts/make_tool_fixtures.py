#!/usr/bin/env python3
"""Writes fixtures/tools/: preference records with tool calls, tool turns, images and reasoning,
in TRL's conversational layout (the `tools` and `images` columns, `tool_calls` on assistant
messages, the `tool` role, content as typed parts) and OpenAI's preference layout with
`input.tools`. Run from the repository root: python3 scripts/make_tool_fixtures.py
"""
import json, os

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}

trl = [
    # the chosen reply calls the tool, the rejected one guesses
    {"prompt": [{"role": "user", "content": "What is the weather in Paris?"}],
     "chosen": [{"role": "assistant", "content": "", "tool_calls": [CALL]}],
     "rejected": [{"role": "assistant", "content": "It is sunny in Paris."}],
     "tools": [WEATHER]},
    # the prompt ends with the tool's result; the replies answer it
    {"prompt": [{"role": "user", "content": "What is the weather in Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [CALL]},
                {"role": "tool", "name": "get_weather", "content": "{\"temperature\": 22, \"sky\": \"clear\"}"}],
     "chosen": [{"role": "assistant", "content": "It is 22 °C and clear in Paris."}],
     "rejected": [{"role": "assistant", "content": "I could not find out."}],
     "tools": [WEATHER]},
    # an image in the prompt (TRL's vision layout: typed parts and an images column)
    {"images": [{"path": "cat.png", "bytes": None}],
     "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What animal is this?"}]}],
     "chosen": [{"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}],
     "rejected": [{"role": "assistant", "content": [{"type": "text", "text": "A dog."}]}]},
    # reasoning kept beside the answer
    {"prompt": [{"role": "user", "content": "What is 6 times 7?"}],
     "chosen": [{"role": "assistant", "content": "42", "reasoning_content": "6 * 7 = 42."}],
     "rejected": [{"role": "assistant", "content": "41", "reasoning_content": "About 40."}]},
    # text-only parts: flattened to a string, as before
    {"prompt": [{"role": "user", "content": [{"type": "text", "text": "Say hi."}]}],
     "chosen": [{"role": "assistant", "content": "Hi!"}], "rejected": [{"role": "assistant", "content": "No."}]},
]

openai = [
    {"input": {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER], "parallel_tool_calls": True},
     "preferred_output": [{"role": "assistant", "content": None, "tool_calls": [
         {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}],
     "non_preferred_output": [{"role": "assistant", "content": "Sunny."}]},
]

if __name__ == "__main__":
    os.makedirs("fixtures/tools", exist_ok=True)
    with open("fixtures/tools/trl_tools_images.jsonl", "w") as f:
        for r in trl:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open("fixtures/tools/openai_tools.jsonl", "w") as f:
        for r in openai:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
