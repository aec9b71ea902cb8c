"""The ``grade serve`` commands: help for each, and one line for a bad roster or database."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
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


def test_a_web_process_freezes_what_it_holds_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import gc
    import json

    from grader.serve import web
    from grader.serve.database import migrate, open_engine

    url = f"sqlite:///{tmp_path / 'grade.db'}"
    migrate(open_engine(url))
    settings = web.Web(course=str(COURSE), url=url)
    monkeypatch.setenv(web.SETTINGS, json.dumps(dataclasses.asdict(settings)))
    threshold = gc.get_threshold()
    gc.unfreeze()
    try:
        app = web.application()
        # Full collections walk none of the app (a 65-103 ms stall each, unfrozen).
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] == 10_000
        assert app.router.routes[0].path in ("/api/submissions", "/submit")
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
