"""The command line explains itself: every command has a summary in the list and a
description; every option and argument has help, with its default where it has one; no
reST backticks in what -h prints."""

import argparse

import pytest

from profiling_assets import cli


def commands() -> argparse._SubParsersAction:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub


def test_every_command_has_a_summary_and_a_description():
    sub = commands()
    summaries = {a.dest: a.help for a in sub._choices_actions}
    assert set(summaries) == set(sub.choices) >= {"generate", "import", "demo", "run", "train",
                                                 "materialize", "query", "models", "forget",
                                                 "summary"}
    for name, parser in sub.choices.items():
        assert summaries[name] and len(summaries[name]) > 10, name
        assert parser.description and len(parser.description) > len(summaries[name]) - 5, name
        assert parser.prog == f"profiling-assets {name}"


@pytest.mark.parametrize("name", sorted(commands().choices))
def test_every_option_has_help_with_its_default(name):
    parser = commands().choices[name]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        label = action.option_strings or action.dest
        assert action.help and action.help.strip(), (name, label)
        takes_value = action.nargs != 0
        if takes_value and action.default not in (None, argparse.SUPPRESS):
            line = parser.formatter_class("x")._get_help_string(action) % vars(action)
            assert "default" in line.lower(), (name, label, line)
    text = parser.format_help()
    assert "`" not in text, name
    assert "(default: None)" not in text and "(default: False)" not in text, name


def test_top_level_help_names_the_ui_address_and_no_color(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "PROFILING_UI_URL" in out and "NO_COLOR" in out and "`" not in out
    for name in commands().choices:
        assert name in out


def test_summary_totals_say_where_every_line_went():
    line = cli.totals_line(1000, 990, 10, 960, 30, days=3)
    assert line == ("3 day(s), 1,000 lines read: 990 accepted (99.0%), 10 rejected at the raw "
                    "layer (1.0%); of the accepted, 960 clean (97.0%) and 30 quarantined (3.0%)")
    assert "accepted (-)" in cli.totals_line(0, 0, 0, 0, 0, days=1)
