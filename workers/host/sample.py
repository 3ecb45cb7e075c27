"""Batch sampling and scoring on a GPU host: rejection sampling, evaluation and generation.

usage: python sample.py --config sample.json

The config (JSON, written by Pairwise into the run's folder):
  prompts         JSONL file, one {"id": prompt id, "messages": [...]} a line
  models          [{"name": ..., "path": checkpoint folder}]: each answers every prompt
  k               samples per prompt and model
  system_prompts  optional; sample i is steered by system_prompts[i mod len]
  sampling        {"temperature", "top_p", "max_tokens"}
  reward_model    optional checkpoint folder of a sequence-classification reward model: every
                  sample is scored (the raw logit at the last token, as vLLM's /classify with
                  use_activation false), and the best of each prompt and model is marked
  output          JSONL file, one line per prompt and model:
                  {"prompt_id", "model", "samples": [{"index", "system_prompt", "message",
                   "finish_reason", "score"}], "best": index or null}
  progress        JSON file rewritten as lines are written: {"done", "total"}
  pairs           optional JSONL of held-out preference pairs, {"id", "strength", "prompt",
                  "chosen", "rejected"} a line: each side is scored by the reward model and
                  written to pairs_output as {"id", "strength", "chosen", "rejected"} (scores)
  engine          "auto" (vLLM where it is installed, else transformers), "vllm" or "transformers"
  batch_size      prompts per generation batch (transformers)
  seed            sampling seed

The output is appended chunk by chunk and flushed; a restarted run skips the (prompt, model)
pairs already written, so a retry resumes instead of starting over.
"""

import argparse
import json
import os
import sys


def with_system_prompt(messages, system):
    """The steering system prompt goes first; a prompt's own system message follows it in the same message."""
    if messages and messages[0]["role"] == "system":
        return [{**messages[0], "content": f"{system}\n\n{messages[0]['content']}"}] + messages[1:]
    return [{"role": "system", "content": system}] + messages


def chat_messages(messages):
    """Messages as chat templates expect them: optional keys absent rather than null."""
    return [{key: value for key, value in m.items() if value is not None} for m in messages]


def read_done(path):
    done = set()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    break  # a line cut off by a crash: it is rewritten
                done.add((row["prompt_id"], row["model"]))
    return done


class TransformersEngine:
    def __init__(self, seed):
        import torch

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        torch.manual_seed(seed)

    def load_policy(self, path):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype).to(self.device).eval()
        return tokenizer, model

    def generate(self, policy, conversations, k, sampling):
        tokenizer, model = policy
        texts = [tokenizer.apply_chat_template(chat_messages(c), tokenize=False, add_generation_prompt=True) for c in conversations]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        temperature = float(sampling.get("temperature", 1.0))
        with self.torch.no_grad():
            out = model.generate(
                **batch,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=float(sampling.get("top_p", 1.0)),
                max_new_tokens=int(sampling.get("max_tokens", 512)),
                num_return_sequences=k,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[:, batch["input_ids"].shape[1] :]
        eos = set(model.generation_config.eos_token_id if isinstance(model.generation_config.eos_token_id, list) else [model.generation_config.eos_token_id])
        results = []
        for row in new.tolist():
            stopped = any(t in eos for t in row)
            # PostgreSQL's jsonb refuses NUL characters, which a byte-level tokenizer can produce.
            text = tokenizer.decode(row, skip_special_tokens=True).replace("\x00", "")
            results.append((text, "stop" if stopped else "length"))
        return [results[i * k : (i + 1) * k] for i in range(len(conversations))]

    def load_reward(self, path):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.padding_side = "right"
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=self.dtype).to(self.device).eval()
        return tokenizer, model

    def score(self, reward, conversations):
        tokenizer, model = reward
        return score_conversations(self.torch, tokenizer, model, conversations, self.device)

    def share(self, _models):
        pass


def score_conversations(torch, tokenizer, model, conversations, device="cpu"):
    """Raw reward scores: the chat template over prompt and answer, the logit at the last token.

    The score is read at each sequence's own last token (the final <|eot_id|> for Llama 3), as
    vLLM's /classify pools it, whatever the model's pad token says; the trainer reads the same
    token only when its pad token is not a token of the text (tests/round/trainer-contract).
    """
    scores = []
    head = getattr(model, "score", None)
    with torch.no_grad():
        for conversation in conversations:
            ids = tokenizer.apply_chat_template(chat_messages(conversation), tokenize=True, return_dict=False)
            if isinstance(ids, dict):
                ids = ids["input_ids"]
            input_ids = torch.tensor([ids], device=device)
            if head is not None:
                hidden = model.base_model(input_ids=input_ids).last_hidden_state[:, -1, :]
                scores.append(float(head(hidden)[0, 0]))
            else:
                scores.append(float(model(input_ids=input_ids).logits[0, -1]))
    return scores


class VllmEngine:
    """vLLM offline inference: LLM.chat with n samples, LLM.classify for rewards."""

    def __init__(self, seed):
        import vllm

        self.vllm = vllm
        self.seed = seed
        self.tp = int(os.environ.get("PAIRWISE_TENSOR_PARALLEL", "1"))

    def load_policy(self, path):
        return self.vllm.LLM(model=path, dtype="bfloat16", tensor_parallel_size=self.tp, seed=self.seed, gpu_memory_utilization=self.memory)

    def generate(self, llm, conversations, k, sampling):
        params = self.vllm.SamplingParams(
            n=k,
            temperature=float(sampling.get("temperature", 1.0)),
            top_p=float(sampling.get("top_p", 1.0)),
            max_tokens=int(sampling.get("max_tokens", 512)),
            seed=self.seed,
        )
        outputs = llm.chat([chat_messages(c) for c in conversations], params, use_tqdm=False)
        return [[(o.text.replace("\x00", ""), o.finish_reason or "stop") for o in out.outputs] for out in outputs]

    def load_reward(self, path):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path), self.vllm.LLM(model=path, runner="pooling", dtype="bfloat16", tensor_parallel_size=self.tp, gpu_memory_utilization=self.memory)

    def score(self, reward, conversations):
        tokenizer, llm = reward
        prompts = [{"prompt_token_ids": tokenizer.apply_chat_template(chat_messages(c), tokenize=True, return_dict=False)} for c in conversations]
        outputs = llm.classify(prompts, use_tqdm=False, pooling_params=self.vllm.PoolingParams(use_activation=False))
        return [float(o.outputs.probs[0]) for o in outputs]

    def share(self, models):
        # Each resident model gets an equal part of the GPU memory vLLM may take.
        self.memory = round(0.9 / max(1, models), 3)


def score_pairs(engine, config):
    """The reward model's held-out accuracy, pair by pair: Llama 3 reports it by preference strength."""
    engine.share(1)
    reward = engine.load_reward(config["reward_model"])
    rows = [json.loads(line) for line in open(config["pairs"], encoding="utf-8") if line.strip()]
    with open(config["pairs_output"], "w", encoding="utf-8") as out:
        for start in range(0, len(rows), 64):
            chunk = rows[start : start + 64]
            scores = engine.score(reward, [r["prompt"] + r[side] for r in chunk for side in ("chosen", "rejected")])
            for i, r in enumerate(chunk):
                out.write(json.dumps({"id": r["id"], "strength": r.get("strength"), "chosen": scores[2 * i], "rejected": scores[2 * i + 1]}) + "\n")
    print(f"pairwise: scored {len(rows)} held-out pairs", flush=True)
    return 0


def pick_engine(name, seed):
    if name in ("auto", "vllm"):
        try:
            return VllmEngine(seed)
        except ImportError:
            if name == "vllm":
                raise
    return TransformersEngine(seed)


def main():
    cli = argparse.ArgumentParser(description="Pairwise batch sampling and scoring.")
    cli.add_argument("--config", required=True)
    config = json.load(open(cli.parse_args().config, encoding="utf-8"))

    engine = pick_engine(config.get("engine", "auto"), int(config.get("seed", 0)))
    if config.get("pairs"):
        return score_pairs(engine, config)

    prompts = []
    with open(config["prompts"], encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    prompts.append(json.loads(line))
                except json.JSONDecodeError as error:
                    print(f"pairwise: {config['prompts']} line {number}: {error}", file=sys.stderr)
                    return 2
    models = config["models"]
    k = int(config.get("k", 1))
    systems = config.get("system_prompts") or []
    sampling = config.get("sampling") or {}
    batch_size = int(config.get("batch_size", 16))
    output, progress = config["output"], config["progress"]
    total = len(prompts) * len(models)
    done = read_done(output)
    print(f"pairwise: {type(engine).__name__}, {len(prompts)} prompts x {len(models)} model(s), k={k}, {len(done)} already done", flush=True)

    def report(count):
        with open(progress + ".tmp", "w") as f:
            json.dump({"done": count, "total": total}, f)
        os.replace(progress + ".tmp", progress)

    # Every model stays loaded and prompts go through in chunks (generate, score, write), so
    # memory holds one chunk and a crash loses at most one chunk. vLLM splits the GPU between them.
    names = [m["name"] for m in models]
    engine.share(len(models) + (1 if config.get("reward_model") else 0))
    policies = {m["name"]: engine.load_policy(m["path"]) for m in models}
    reward = engine.load_reward(config["reward_model"]) if config.get("reward_model") else None
    groups = [(s, [i for i in range(k) if i % len(systems) == s]) for s in range(len(systems))] if systems else [(None, list(range(k)))]
    count = len(done)
    with open(output, "a", encoding="utf-8") as out:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            for name in names:
                todo = [p for p in chunk if (p["id"], name) not in done]
                if not todo:
                    continue
                samples = {p["id"]: [None] * k for p in todo}
                # One generation call per system prompt, with the samples it steers.
                for system, indexes in groups:
                    if not indexes:
                        continue
                    conversations = [with_system_prompt(p["messages"], systems[system]) if system is not None else p["messages"] for p in todo]
                    for p, answers in zip(todo, engine.generate(policies[name], conversations, len(indexes), sampling)):
                        for index, (text, finish) in zip(indexes, answers):
                            samples[p["id"]][index] = {"index": index, "system_prompt": system, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "score": None}
                for p in todo:
                    rows = samples[p["id"]]
                    best = None
                    if reward is not None:
                        # Scored against the prompt as asked, without the steering system prompt.
                        for s, value in zip(rows, engine.score(reward, [p["messages"] + [s["message"]] for s in rows])):
                            s["score"] = value
                        best = max(range(len(rows)), key=lambda i: (rows[i]["score"], -i))
                    out.write(json.dumps({"prompt_id": p["id"], "model": name, "samples": rows, "best": best}) + "\n")
                    count += 1
                out.flush()
                report(count)
    report(count)
    print(f"pairwise: wrote {count} of {total} prompt-model answers to {output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
