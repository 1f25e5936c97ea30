"""deploy/: the compose file, its Dockerfile and nginx.conf say only what the bot accepts.

There is no container runtime on the machines these tests run on, so the files are not started
here; these checks keep them from drifting from the code (a renamed option, variable or extra)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from bot.faces.cli import main


def compose(repo: Path) -> dict:
    return yaml.safe_load((repo / "deploy" / "compose.yaml").read_text(encoding="utf-8"))


def test_every_bot_command_in_compose_is_one_the_cli_accepts(repo: Path) -> None:
    services = compose(repo)["services"]
    commands = [s["command"] for s in services.values() if s.get("command", [""])[0] == "bot"]
    assert len(commands) == 3  # migrate, and the two replicas
    for command in commands:
        group = main
        args = command[1:]
        while hasattr(group, "commands") and args and args[0] in group.commands:
            group, args = group.commands[args[0]], args[1:]
        group.make_context(command[1], list(args))  # raises on an option the command does not have


def test_the_environment_compose_sets_is_what_the_bot_reads(repo: Path) -> None:
    read = (repo / "bot" / "service.py").read_text(encoding="utf-8")
    for service in ("bot1", "bot2", "migrate"):
        for name in compose(repo)["services"][service]["environment"]:
            assert f'"{name}"' in read, name


def test_the_dockerfile_installs_an_extra_the_package_has(repo: Path) -> None:
    extras = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    wanted = re.findall(r"'\.\[(\w+)\]'", (repo / "deploy" / "Dockerfile").read_text(encoding="utf-8"))
    assert wanted and set(wanted) <= set(extras)


def test_nginx_sends_to_the_replicas_compose_runs(repo: Path) -> None:
    upstream = re.findall(r"server (\w+):8000", (repo / "deploy" / "nginx.conf").read_text(encoding="utf-8"))
    replicas = [n for n, s in compose(repo)["services"].items() if "serve" in s.get("command", [])]
    assert sorted(upstream) == sorted(replicas)
