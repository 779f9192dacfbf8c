"""``init``: a new home with an example template and an example agents file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow_cli.store.home import init_home

EXAMPLE_TEMPLATE = """\
# An example workflow: run it with
#   workflow-cli run hello --param who=world
version: "2.0.0"
name: Hello workflow
description: A small example of a command task feeding a python task.
category: examples
parameters:
  who:
    type: string
    default: world
    description: Who to greet.
tasks:
  greet:
    name: Greet
    action: command
    retry_count: 1
    parameters:
      # values rendered into a command string are shell-quoted: write {{ params.who }} bare
      command: >-
        echo hello {{ params.who }};
        printf 'greeting=hello %s\\n' {{ params.who }} >> "$WORKFLOW_OUTPUT"
  stats:
    name: Count the words of the greeting
    action: python
    dependencies: [greet]
    parameters:
      callable: "workflow_cli.examples:text_stats"
      kwargs:
        text: "{{ tasks.greet.outputs.greeting }}"
  report:
    name: Report
    action: command
    dependencies: [stats]
    parameters:
      command: "echo {{ tasks.stats.outputs.shout }} has {{ tasks.stats.outputs.words }} words"
"""

EXAMPLE_AGENTS = """\
# Agents available to agent_task tasks of every workflow in this home (SPEC 6.3).
# kind: command | python | http | mailbox
agents:
  word-counter:
    kind: command
    type: worker
    capabilities: [count]
    command: ["python3", "-c", "import json,sys; p=json.load(sys.stdin); print(json.dumps({'words': len(str(p.get('parameters', {}).get('text', '')).split())}))"]
    max_concurrent: 2
    description: Counts the words of parameters.text.
"""


def init_with_examples(target: Path) -> dict[str, Any]:
    """Create the home at ``target``; example files are written only where none exist."""
    home = init_home(target.expanduser())
    created = []
    for path, text in ((home.templates / "hello.yaml", EXAMPLE_TEMPLATE), (home.agents_file, EXAMPLE_AGENTS)):
        if not path.exists():
            path.write_text(text)
            created.append(str(path))
    return {"home": str(home.root), "created": created}
