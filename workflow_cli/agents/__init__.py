"""Agents: named workers that perform ``agent_task`` tasks (SPEC 6.3).

``registry`` merges the built-in, home and document agents and picks one for a task; ``kinds`` reaches
an agent (command, python, http, mailbox, builtin); ``builtin`` holds the built-in agents' work;
``payload`` builds what an agent is handed; ``stats`` keeps the recent calls for ``workflow-cli agents``.
"""
