"""Every shell command in the ```bash blocks of the README (and docs/library.md, docs/reliability.md) still works, checked without computing.

Each command is taken from the blocks (continuation lines joined, comments dropped, ``&&`` and
``;`` split, leading ``NAME=value`` taken as environment) and handed to the handler of its kind:

- ``python -m lib <command> ...``: parsed by ``lib.cli``; a training command runs with
  ``--dry-run`` (the config is validated and its run id printed, nothing is trained);
- ``python -m lib.report ...``: parsed, and the notebooks, profile and parameters validated
  (``lib.runner.plan``); ``python -m lib.<module>``: parsed by the module's ``build_parser``;
- ``python scripts/<x>.py``, ``python benchmarks/<x>.py``: parsed by the script's own parser;
- ``make <target> VAR=value``: ``make -n`` (nothing runs) and the variable is the Makefile's;
- ``torchrun``, ``srun``, ``nice``: torchrun's own parser, then the command it starts;
- ``conda``, ``python -m ipykernel``, ``jupyter``: the environment file, kernel name and
  package they name exist.

A command of another kind fails the test with the message to add a handler here. Placeholders
such as ``<hash>`` are replaced by a well-formed value (``PLACEHOLDERS``).
"""

import contextlib
import importlib
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lib.config import repo_path

ROOT = repo_path("README.md").parent
PLACEHOLDERS = {"<hash>": "0123456789ab"}  # a placeholder in a README command -> a well-formed value
RUN_ID = re.compile(r"(pretrain|supervised|finetune|distill)-[0-9a-f]{12}")
SEPARATORS = {"&&", "||", ";", "|"}


@dataclass
class Command:
    line: str                                      # as in the README, continuation lines joined
    argv: list[str]                                # empty for a plain variable assignment
    env: dict[str, str] = field(default_factory=dict)  # leading NAME=value assignments


def bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"(?ms)^```(?:bash|sh|shell)[ \t]*\n(.*?)^```", markdown)


def commands(block: str) -> list[Command]:
    """The commands of one block, in order."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if re.fullmatch(r"[A-Za-z_]\w*=\$\(.*\)", line.split("#")[0].strip()):
            out.append(Command(line, []))  # NAME=$(...): a variable set by a site command (scontrol)
            continue
        for name, value in PLACEHOLDERS.items():
            line = line.replace(name, value)
        left = re.findall(r"<[A-Za-z_-]+>", line)
        assert not left, f"README command `{line}` has placeholder(s) {left}: add them to PLACEHOLDERS"
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        segment: list[str] = []
        for token in [*lexer, ";"]:
            if token not in SEPARATORS:
                segment.append(token)
                continue
            env = {}
            while segment and re.fullmatch(r"[A-Za-z_]\w*=.*", segment[0]):
                name, value = segment.pop(0).split("=", 1)
                env[name] = value
            if segment or env:
                out.append(Command(line, segment, env))
            segment = []
    return out


# the README and the pages it moved its library and reliability details to (issue #25): their commands run
# from the repository root too
DOCUMENTS = ("README.md", "docs/library.md", "docs/reliability.md")


def readme_commands() -> list[Command]:
    return [c for doc in DOCUMENTS if (ROOT / doc).is_file()
            for block in bash_blocks((ROOT / doc).read_text(encoding="utf-8")) for c in commands(block)]


# ---- handlers ----------------------------------------------------------------------------------

def run_quietly(fn, *args):
    """``fn(*args)`` with stdout and stderr captured; an argparse exit becomes a test failure."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = fn(*args)
    except SystemExit as e:
        raise AssertionError(f"exit {e.code}: {err.getvalue().strip()}") from None
    return result, out.getvalue(), err.getvalue()


def check_lib_cli(args: list[str]) -> None:
    from lib import cli

    ns, _, _ = run_quietly(cli.build_parser().parse_args, args)
    if ns.command == "evaluate":
        assert RUN_ID.fullmatch(ns.run) or Path(ns.run).is_dir(), f"evaluate needs a run id, got {ns.run!r}"
        return
    code, out, err = run_quietly(cli.main, [*args, "--dry-run"])
    assert code == 0 and "run id: " in out, f"config refused: {err.strip()}"


def check_python_module(module: str, args: list[str]) -> None:
    if module == "lib":
        return check_lib_cli(args)
    if module == "lib.report":
        from lib.report import runner

        ns, _, _ = run_quietly(runner.build_parser().parse_args, args)
        runner.plan(ROOT / "notebooks", ns.profile, ns.only, dict(ns.parameter))  # raises on a bad parameter
        return
    if module == "ipykernel":
        from lib.report.runner import KERNEL

        assert args[:1] == ["install"] and "--name" in args, "expected `python -m ipykernel install --name ...`"
        name = args[args.index("--name") + 1]
        assert name == KERNEL, f"kernel {name!r} is not the one the report runs in ({KERNEL!r})"
        return
    if module.startswith("lib."):
        mod = importlib.import_module(module)
        assert hasattr(mod, "build_parser"), f"{module} has no build_parser(): add a handler for it here"
        run_quietly(mod.build_parser().parse_args, args)
        return
    raise AssertionError(f"no handler for `python -m {module}`: add one to tests/test_readme_commands.py")


def check_python_script(path: str, args: list[str]) -> None:
    file = ROOT / path
    assert file.is_file(), f"{path} does not exist"
    assert Path(path).parts[0] in ("scripts", "benchmarks"), \
        f"no handler for scripts outside scripts/ and benchmarks/ ({path}): add one to tests/test_readme_commands.py"
    spec = importlib.util.spec_from_file_location(f"readme_cmd_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # the scripts do nothing at import
    if hasattr(module, "build_parser"):
        run_quietly(module.build_parser().parse_args, args)
    elif hasattr(module, "parse_args"):
        run_quietly(module.parse_args, args)
    else:
        raise AssertionError(f"{path} has neither build_parser() nor parse_args(): add a handler for it here")


def check_make(args: list[str], env: dict[str, str]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    for assignment in (a for a in args if "=" in a):
        name = assignment.split("=", 1)[0]
        assert re.search(rf"\$\({name}\)", makefile), f"make variable {name} is not used by the Makefile"
    targets = [a for a in args if "=" not in a and not a.startswith("-")]
    assert targets, "a bare `make` in the README: name the target"
    if shutil.which("make") is None:
        for t in targets:
            assert re.search(rf"(?m)^{re.escape(t)}\s*:", makefile), f"no make target {t!r}"
        return
    done = subprocess.run(["make", "-n", *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, f"make -n {' '.join(args)}: {done.stderr.strip()}"


def check_torchrun(args: list[str]) -> None:
    from torch.distributed.run import get_args_parser

    ns, _, _ = run_quietly(get_args_parser().parse_args, args)
    assert ns.module, "torchrun in the README starts a module (-m lib ...)"
    check_python_module(ns.training_script, ns.training_script_args)


def check_conda(args: list[str]) -> None:
    text = (ROOT / "environment.yml").read_text()
    name = re.search(r"(?m)^name:\s*(\S+)", text).group(1)
    if args[:2] == ["env", "create"]:
        assert "-f" in args and (ROOT / args[args.index("-f") + 1]).is_file(), "conda env create -f <existing file>"
    elif args[:1] == ["activate"]:
        assert args[1] == name, f"conda activate {args[1]}: environment.yml creates {name!r}"
    else:
        raise AssertionError(f"no handler for `conda {' '.join(args)}`: add one to tests/test_readme_commands.py")


def check_jupyter(args: list[str]) -> None:
    assert args[:1] == ["lab"], f"no handler for `jupyter {' '.join(args)}`: add one to tests/test_readme_commands.py"
    assert importlib.util.find_spec("jupyterlab"), "jupyterlab is not installed (the report extra installs it)"


def check(command: Command) -> None:
    """Dispatch ``command`` to the handler of its kind."""
    for name in command.env:
        used = any(name in p.read_text() for p in [*ROOT.glob("lib/**/*.py"), ROOT / "Makefile"])
        assert used, f"environment variable {name} is read by nothing in lib/ or the Makefile"
    argv = command.argv
    if not argv:
        return  # a shell variable assignment: nothing to run
    program = Path(argv[0]).name
    if program in ("python", "python3"):
        if argv[1:2] == ["-m"]:
            return check_python_module(argv[2], argv[3:])
        if argv[1].endswith(".py"):
            return check_python_script(argv[1], argv[2:])
    if program == "make":
        return check_make(argv[1:], command.env)
    if program == "torchrun":
        return check_torchrun(argv[1:])
    if program == "srun":  # srun [options] <command>: the command is checked
        rest = argv[1:]
        while rest and rest[0].startswith("-"):
            rest = rest[1:]
        return check(Command(command.line, rest))
    if program == "nice":  # nice [-n N] <command>: training at low priority; the command is checked
        rest = argv[3:] if argv[1:2] == ["-n"] else argv[1:]
        return check(Command(command.line, rest))
    if program == "conda":
        return check_conda(argv[1:])
    if program == "jupyter":
        return check_jupyter(argv[1:])
    raise AssertionError(f"no handler for the README command `{command.line}` (kind {program!r}): "
                         "add one to check() in tests/test_readme_commands.py")


# ---- tests -------------------------------------------------------------------------------------

COMMANDS = readme_commands()


@pytest.fixture(autouse=True)
def in_repository(monkeypatch):
    monkeypatch.chdir(ROOT)  # the README's commands are run from the repository root


@pytest.mark.parametrize("command", COMMANDS, ids=[shlex.join(c.argv)[:60] or c.line[:60] for c in COMMANDS])
def test_readme_command(command):
    check(command)


def test_readme_commands_are_found():
    """The extraction sees the README's main commands (a regex gone wrong would check nothing)."""
    found = {" ".join(c.argv[:4]) for c in COMMANDS}
    assert {"make report", "make test", "python -m lib pretrain", "python -m lib finetune"} <= found
    assert any(Path(c.argv[0]).name == "torchrun" for c in COMMANDS if c.argv)


def test_extraction_and_failures_on_a_made_up_readme():
    text = ("```bash\nmake report   # the main job\nFOO=1 python -m lib pretrain epochs=2 \\\n    seed=1\n"
            "#SBATCH --nodes=2\nhead=$(scontrol show hostnames | head -n 1)\na && b; c\n```\n"
            "```toml\nnot = 'a command'\n```\n")
    found = [c for block in bash_blocks(text) for c in commands(block)]
    assert [c.argv for c in found] == [["make", "report"], ["python", "-m", "lib", "pretrain", "epochs=2", "seed=1"],
                                       [], ["a"], ["b"], ["c"]]
    assert found[1].env == {"FOO": "1"}
    with pytest.raises(AssertionError, match="add one to check"):
        check(Command("frobnicate --now", ["frobnicate", "--now"]))
    with pytest.raises(AssertionError, match="epochs"):
        check(Command("", ["python", "-m", "lib", "pretrain", "epochs=0"]))
    with pytest.raises(AssertionError, match="no_such_target"):
        check(Command("", ["make", "no_such_target"]))
    with pytest.raises(AssertionError, match="add one to tests"):
        check(Command("", ["python", "-m", "some_tool"]))
    with pytest.raises(AssertionError, match="PLACEHOLDERS"):
        commands("python -m lib evaluate <run-id>\n")
