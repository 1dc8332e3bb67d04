"""The tests' launcher (tests/support/launcher.py): a command it forks behaves as the same
command run by `python -m slychat`: same output, same exit code, its own process."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import SECRET, free_port, launcher

ROOT = launcher.ROOT


def _environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLYCHAT_")}
    return env | {"SLYCHAT_JWT_SECRET": SECRET} | settings


def _run(
    monkeypatch: pytest.MonkeyPatch, fork: bool, log: Path, args: list[str], **settings: str
) -> tuple[int, str]:
    monkeypatch.setenv("SLYCHAT_TESTS_FORK", "1" if fork else "0")
    proc = launcher.start(args, _environment(**settings), log)
    code = proc.wait(60)
    return code, log.read_text()


@pytest.mark.parametrize(
    ("args", "settings"),
    [
        (["config"], {"SLYCHAT_DATABASE_URL": "sqlite:///./x.db"}),  # prints, exits 0
        (["serve"], {"SLYCHAT_PORT": "not-a-port"}),  # refused settings: exit 2
        (["no-such-command"], {}),  # argparse's own error
    ],
)
def test_a_forked_command_prints_and_exits_as_the_command_run_by_python_m(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], settings: dict[str, str]
) -> None:
    run = _run(monkeypatch, False, tmp_path / "run.log", args, **settings)
    forked = _run(monkeypatch, True, tmp_path / "forked.log", args, **settings)
    assert forked == run
    assert run[1]


def test_a_forked_server_is_a_process_of_its_own_that_signals_end(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLYCHAT_TESTS_FORK", "1")
    log = tmp_path / "serve.log"
    proc = launcher.start(
        ["serve", "--host", "127.0.0.1", "--port", str(free_port())],
        _environment(SLYCHAT_DATABASE_URL=f"sqlite:///{tmp_path}/chat.db"),
        log,
    )
    try:
        assert proc.poll() is None
        assert proc.pid != os.getpid()
        # (Not /proc/<pid>/environ: a fork's is its launcher's, whatever os.environ says.)
        assert Path(f"/proc/{proc.pid}/cwd").resolve() == ROOT
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
        assert proc.poll() == -signal.SIGKILL
    finally:
        proc.kill()


def test_a_command_on_other_code_is_not_forked_from_the_launcher_s(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another PYTHONPATH (the benchmarks' earlier revisions) means other modules than the
    launcher imported: that command runs by `python -m slychat`."""
    monkeypatch.setenv("SLYCHAT_TESTS_FORK", "1")
    env = _environment() | {"PYTHONPATH": str(tmp_path)}
    proc = launcher.start(["--help"], env, tmp_path / "help.log")
    assert isinstance(proc, subprocess.Popen)
    assert proc.wait(60) == 0
    forked = launcher.start(["--help"], _environment(), tmp_path / "forked.log")
    assert not isinstance(forked, subprocess.Popen)
    assert forked.wait(60) == 0
