"""Write completions/ for bash, zsh and fish from the app itself (`make completions`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = {"bash": "sc.bash", "zsh": "_sc", "fish": "sc.fish"}


def script(shell: str) -> str:
    env = {**os.environ, "_SC_COMPLETE": f"source_{shell}"}
    cmd = [sys.executable, "-c", "from sccli.cli.app import app; app(prog_name='sc')"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout


def main() -> None:
    out = ROOT / "completions"
    out.mkdir(exist_ok=True)
    for shell, name in FILES.items():
        (out / name).write_text(script(shell).lstrip("\n"))  # zsh autoloads a file only if #compdef is its first line
        print(f"wrote completions/{name}")


if __name__ == "__main__":
    main()
