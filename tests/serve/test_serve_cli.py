"""The ``grade serve`` commands: help for each, and one line for a bad roster or database."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner
from serving import COURSE

from grader.cli import cli


def test_every_serve_command_and_option_has_help_text() -> None:
    group = cli.commands["serve"]
    assert isinstance(group, click.Group)
    commands = {"serve": group, **group.commands, "login": cli.commands["login"]}
    commands["submit"] = cli.commands["submit"]
    for name, command in commands.items():
        assert command.help, f"`grade {name}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"`grade {name}` option {param.opts[0]} has no help text"


def test_a_roster_without_a_folder_column_is_one_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAlice,a@example.edu\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'grade.db'}"
    result = CliRunner().invoke(
        cli, ["serve", "roster", str(roster), "--db", db, "--course", str(COURSE)]
    )
    assert result.exit_code == 2
    assert "missing column folder" in result.output
    assert "Traceback" not in result.output


def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'no-such-folder' / 'grade.db'}"
    result = CliRunner().invoke(cli, ["serve", "migrate", "--db", db, "--course", str(COURSE)])
    assert result.exit_code == 2
    assert "database" in result.output
    assert "Traceback" not in result.output


def test_login_refuses_what_is_not_a_sign_in_link() -> None:
    result = CliRunner().invoke(cli, ["login", "not a link"])
    assert result.exit_code == 2
    assert "is not a sign-in link" in result.output
