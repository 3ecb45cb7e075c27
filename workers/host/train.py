"""Runs one of TRL's own training scripts (reward, sft, dpo) on a Pairwise run's config.

usage:  python train.py {reward|sft|dpo} --config config.yaml
        accelerate launch --config_file accelerate.yaml train.py {reward|sft|dpo} --config config.yaml
        python train.py {reward|sft|dpo} --config config.yaml --check   (parse only, exit 0 or 2)

This is `trl <kind> --config` with two differences that a round needs:
- the config is parsed by TRL's own parser with unknown keys refused, so a key that TRL or
  transformers renamed or removed fails here, at once, with its name (the `trl` CLI would hand it
  to `accelerate launch`, which exits 2 with "unrecognized arguments");
- a retried run resumes from the newest complete `checkpoint-N/` in its output_dir (the `trl`
  scripts call `trainer.train()` with no checkpoint). Checkpoints carry the optimizer and
  scheduler state and the data order, so the resumed run continues the same schedule.
Everything else, the trainer, the loss and the saving, is TRL's script unchanged.
"""

import argparse
import importlib
import json
import os
import re
import sys

KINDS = ("reward", "sft", "dpo")


def newest_checkpoint(output_dir):
    """The newest checkpoint whose trainer state was written (a checkpoint cut off mid-save lacks it)."""
    if not output_dir or not os.path.isdir(output_dir):
        return None
    found = []
    for name in os.listdir(output_dir):
        match = re.fullmatch(r"checkpoint-(\d+)", name)
        path = os.path.join(output_dir, name)
        if match and os.path.isfile(os.path.join(path, "trainer_state.json")):
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def resume_with(checkpoint):
    """Makes the script's `trainer.train()` start from `checkpoint`."""
    from transformers import Trainer

    original = Trainer.train

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        return original(self, resume_from_checkpoint or checkpoint, *args, **kwargs)

    Trainer.train = train


class InvalidConfig(Exception):
    pass


def parse(kind, config_path):
    """TRL's own parser for the script, unknown keys refused: (script module, parsed dataclasses)."""
    script = importlib.import_module(f"trl.scripts.{kind}")
    parser = script.make_parser()
    try:
        return script, parser.parse_args_and_config(args=["--config", config_path], fail_with_unknown_args=True)
    except (ValueError, TypeError, SystemExit) as error:
        raise InvalidConfig(f"the {kind} config {config_path} is not valid for this TRL: {error}") from error


def main():
    cli = argparse.ArgumentParser(description="Run a TRL trainer on a Pairwise run config.")
    cli.add_argument("kind", choices=KINDS)
    cli.add_argument("--config", required=True)
    cli.add_argument("--check", action="store_true", help="parse the config with TRL's parser and exit")
    options = cli.parse_args()

    try:
        script, parsed = parse(options.kind, options.config)
    except InvalidConfig as error:
        print(f"pairwise: {error}", file=sys.stderr)
        return 2
    training_args = parsed[1]
    if options.check:
        print(json.dumps({"kind": options.kind, "ok": True, "trainer_config": type(training_args).__name__}))
        return 0

    checkpoint = training_args.resume_from_checkpoint or newest_checkpoint(training_args.output_dir)
    if checkpoint:
        print(f"pairwise: resuming from {checkpoint}", flush=True)
        resume_with(checkpoint)
    print(f"pairwise: running trl.scripts.{options.kind} ({type(training_args).__name__})", flush=True)
    script.main(*parsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
