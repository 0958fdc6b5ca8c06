"""``python -m sccli`` runs the ``sc`` CLI."""

from sccli.cli import main

if __name__ == "__main__":
    main()
