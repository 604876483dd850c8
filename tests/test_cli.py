"""Command line parsing, validation and app loading errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pronghorn import Pronghorn
from pronghorn.cli import build_parser, config_from_args, main
from pronghorn.config import AppLoadError, ServerConfig, load_app

ROOT = Path(__file__).resolve().parent.parent


def parse(*argv):
    return config_from_args(build_parser().parse_args(["run", "tests.apps.basic:app", *argv]))


def test_defaults_come_from_server_config():
    config = parse()
    expected = ServerConfig(app="tests.apps.basic:app")
    assert config == expected
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 8000, 1)
    assert (config.header_timeout, config.keep_alive_timeout, config.graceful_timeout) == (
        10.0, 5.0, 30.0)
    assert (config.max_body_size, config.max_request_line, config.max_head_size,
            config.max_headers) == (16777216, 8190, 65536, 100)
    assert (config.access_log, config.log_level, config.loop) == (True, "info", "auto")


def test_all_flags():
    config = parse("--host", "::1", "--port", "0", "--workers", "3", "--header-timeout", "1.5",
                   "--keep-alive-timeout", "2", "--graceful-timeout", "0",
                   "--max-body-size", "10", "--max-request-line", "20", "--max-head-size", "64",
                   "--max-headers", "256", "--no-access-log", "--log-level", "DEBUG",
                   "--loop", "asyncio", "--factory", "--backlog", "7", "--app-dir", "src")
    assert config == ServerConfig(
        app="tests.apps.basic:app", host="::1", port=0, workers=3, header_timeout=1.5,
        keep_alive_timeout=2.0, graceful_timeout=0.0, max_body_size=10, max_request_line=20,
        max_head_size=64, max_headers=256, access_log=False, log_level="debug",
        loop="asyncio", factory=True, backlog=7, app_dir="src")


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in ("(default: 127.0.0.1)", "(default: 8000)", "(default: 16777216)",
                 "(default: 10.0)", "(default: 5.0)", "(default: 30.0)", "(default: 8190)",
                 "(default: 65536)", "(default: 100)", "(default: info)", "(default: auto)",
                 "--no-access-log"):
        assert text in out


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == "pronghorn 0.1.0"


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "-1"], ["--port", "65536"], ["--port", "http"],
        ["--workers", "0"], ["--workers", "1.5"],
        ["--header-timeout", "0"], ["--header-timeout", "-1"], ["--header-timeout", "nan"],
        ["--keep-alive-timeout", "0"], ["--keep-alive-timeout", "inf"],
        ["--graceful-timeout", "-0.1"],
        ["--max-body-size", "0"], ["--max-request-line", "15"], ["--max-head-size", "63"],
        ["--max-headers", "0"], ["--max-headers", "257"],
        ["--log-level", "verbose"], ["--loop", "trio"], ["--backlog", "0"],
    ],
)
def test_invalid_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "tests.apps.basic:app", *argv])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_command_required(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_config_validates_directly():
    with pytest.raises(ValueError):
        ServerConfig(port=70000)
    with pytest.raises(ValueError):
        ServerConfig(keep_alive_timeout=0)


def test_core_options_names():
    assert ServerConfig().core_options() == {
        "max_request_line": 8190, "max_head": 65536, "max_headers": 100,
        "max_body": 16 * 1024 * 1024, "header_timeout": 10.0, "keep_alive_timeout": 5.0,
    }


# ---- loading the app --------------------------------------------------------


def test_load_app_attribute_dotted_and_factory():
    from tests.apps import basic

    assert load_app(ServerConfig(app="tests.apps.basic:app")) is basic.app
    assert load_app(ServerConfig(app="tests.apps.basic:Holder.app")) is basic.app
    assert load_app(ServerConfig(app="tests.apps.basic:create_app", factory=True)) is basic.app
    obj = Pronghorn()
    assert load_app(ServerConfig(app=obj)) is obj


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.apps.basic", "must be in the form"),
        ("tests.apps.basic:", "must be in the form"),
        (":app", "must be in the form"),
        ("tests.apps.basic:app:x", "must be in the form"),
        ("tests.apps.nope:app", 'could not import module "tests.apps.nope"'),
        ("tests.apps.basic:nope", 'attribute "nope" not found in module "tests.apps.basic"'),
        ("tests.apps.basic:Holder.nope", 'attribute "Holder.nope" not found'),
        ("tests.apps.basic:log", "is not an application"),
    ],
)
def test_load_app_errors(target, message):
    with pytest.raises(AppLoadError, match=message):
        load_app(ServerConfig(app=target))


def test_factory_not_callable():
    with pytest.raises(AppLoadError, match="not callable"):
        load_app(ServerConfig(app="tests.apps.basic:Holder.__doc__", factory=True))


def test_missing_dependency_inside_module_propagates():
    with pytest.raises(ModuleNotFoundError, match="pronghorn_no_such_dependency"):
        load_app(ServerConfig(app="tests.apps.missing_dep:app"))


def _run_cli(*argv, timeout=20):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pronghorn", "run", *argv, "--port", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.apps.nope:app", 'Error loading app: could not import module "tests.apps.nope"'),
        ("tests.apps.basic:nope", 'Error loading app: attribute "nope" not found'),
        ("tests.apps.basic", "must be in the form"),
        ("tests.apps.broken:app", "this module is broken on purpose"),
    ],
)
def test_cli_import_errors_exit_2(target, message, workers):
    proc = _run_cli(target, "--workers", workers)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Error loading app" in proc.stderr
