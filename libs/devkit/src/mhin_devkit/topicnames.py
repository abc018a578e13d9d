"""mhin_platform.events.topic_names: a constant for each topic topics.toml declares,
so code names topics by a checked identifier instead of retyping the string.

    python -m mhin_devkit.topicnames write   # regenerate the module
    python -m mhin_devkit.topicnames check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mhin_devkit.protogen import find_repo_root
from mhin_platform.events.topics import TopicSpec, declared_topics

MODULE = Path("libs/platform/src/mhin_platform/events/topic_names.py")
HEADER = '''"""The declared topics' names, generated from topics.toml by
``python -m mhin_devkit.topicnames write``: do not edit."""
'''


def constant(spec: TopicSpec) -> str:
    """``mhin.evaluation.aggregate-restricted`` -> ``EVALUATION_AGGREGATE_RESTRICTED``."""
    return spec.name.removeprefix("mhin.").replace(".", "_").replace("-", "_").upper()


def render() -> str:
    lines = [f'{constant(spec)} = "{spec.name}"'
             for spec in declared_topics(include_dlq=False)]
    return HEADER + "\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args(argv)
    path = find_repo_root(Path.cwd()) / MODULE
    if args.command == "write":
        path.write_text(render(), encoding="utf-8")
        return 0
    if path.read_text(encoding="utf-8") != render():
        print(f"{MODULE} is stale: run `python -m mhin_devkit.topicnames write`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
