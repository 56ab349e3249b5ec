"""The CLI's start-up: ``nbcohort`` names every subcommand by its import string, so a command
imports its own module (models, services, alembic, SQLAlchemy) only when it runs; ``--help``
still lists every command with its help."""

from __future__ import annotations

import subprocess
import sys

from traitlets.utils.importstring import import_item

from nbcohort.cohorts.cli.main import NbCohortApp

HEAVY = ("sqlalchemy", "alembic", "nbcohort.cohorts.models", "nbcohort.cohorts.cli.commands")


def test_the_top_command_loads_no_subcommand_module():
    code = (
        "import sys, nbcohort.cohorts.cli.main\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_help_lists_every_command_with_its_help():
    out = subprocess.run(
        [sys.executable, "-m", "nbcohort.cohorts.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name, (_target, help_text) in NbCohortApp.subcommands.items():
        assert f"\n{name}\n    {help_text}" in out, name


def test_every_subcommand_imports_and_its_help_is_its_own():
    for name, (target, help_text) in NbCohortApp.subcommands.items():
        assert isinstance(target, str), name  # by import string, never the class itself
        command = import_item(target)
        if target.startswith("nbcohort.cohorts.cli.commands."):  # copied from the class
            assert help_text == command.description, name
