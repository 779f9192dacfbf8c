"""``python -m workflow_cli`` runs the same CLI as the ``workflow-cli`` script."""

from workflow_cli.cli.main import main

if __name__ == "__main__":
    main()
