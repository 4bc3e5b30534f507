"""Every command the documents tell an operator to run is one the project really has.

Scans each ```sh block of docs/*.md, README.md and SECURITY.md. For each simple command (pipelines, `&&`, `;` and
`$(...)` split apart, `VAR=value` prefixes dropped):
- `make <target>`: the target exists in the Makefile;
- `python -m <module>` (also `.venv/bin/python`, `python3`): the module is found (importlib.util.find_spec); when its
  `--help` shows subcommands, one of the arguments is one of them; every `--option` given appears in the module's
  (or the subcommand's) `--help`;
- `python <script>` and `./path/to/script`: the file exists;
- any argument shaped like a repository path (infra/main.bicep, a parameters file, `@file` included): it exists,
  unless it is a file the operator makes (OPERATOR_FILES) or the target of `>` / `-o`;
- external tools (az, azd, func, curl, psql, ...) are only checked to be in KNOWN_TOOLS, so a typo or a tool the
  documents forgot to introduce fails too.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md", ROOT / "SECURITY.md"])

# Tools the project does not provide: only their presence in this list is checked.
KNOWN_TOOLS = frozenset({
    "az", "azd", "func", "curl", "psql", "openssl", "git", "docker", "jq",
    "cat", "cp", "echo", "export", "eval", "cd", "printf", "read", "source", "set", "unset", "test", "true",
})
# Tools installed into the project's virtualenv (requirements-dev.txt), run as .venv/bin/<tool>.
VENV_TOOLS = frozenset({"python", "python3", "pip", "pip-compile", "pytest", "ruff"})
PYTHONS = frozenset({"python", "python3", ".venv/bin/python", ".venv/bin/python3"})
# Files the documents have the operator create: they are not in the repository, by design.
OPERATOR_FILES = {
    "connections.yaml": "copied from connections.example.yaml and edited",
    ".env": "Docker's settings file, made from .env.example",
    "local.settings.json": "made from local.settings.sample.json",
}
PATH_SUFFIXES = (".py", ".sh", ".bicep", ".json", ".yaml", ".yml", ".md", ".sql", ".txt", ".lock", ".toml")
_PATH = re.compile(r"^[\w.-]+(/[\w.-]+)*/?$")
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w .:/-]*>")
_SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")
_SEPARATORS = frozenset({"|", "||", "&&", ";", "&"})
_REDIRECTS = frozenset({">", ">>", "<", "2>", "2>>", "&>"})


@dataclass(frozen=True)
class Command:
    where: str  # document:line
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {' '.join(self.words)}"


def sh_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, logical line) of every ```sh block, backslash continuations joined."""
    lines: list[tuple[int, str]] = []
    inside = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            inside = line.strip() in ("```sh", "```bash", "```shell")
            continue
        if not inside:
            continue
        if pending is not None:
            start, so_far = pending
            line, number = so_far + " " + line.strip(), start
            pending = None
        if line.rstrip().endswith("\\"):
            pending = (number, line.rstrip()[:-1])
            continue
        lines.append((number, line))
    return lines


def simple_commands(where: str, line: str) -> list[Command]:
    """The simple commands of one shell line: `$(...)` contents first, then the line split on |, &&, ;."""
    line = _PLACEHOLDER.sub("PLACEHOLDER", line)
    inner = [simple_commands(where, body) for body in _SUBSTITUTION.findall(line)]
    line = _SUBSTITUTION.sub("SUBSTITUTED", line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands = [c for found in inner for c in found]
    words: list[str] = []
    for token in lexer:
        if token in _SEPARATORS:
            commands.append(Command(where, tuple(words)))
            words = []
        else:
            words.append(token)
    commands.append(Command(where, tuple(words)))
    return [c for c in (_drop_assignments(c) for c in commands) if c.words]


def _drop_assignments(command: Command) -> Command:
    words = list(command.words)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    return Command(command.where, tuple(words))


def documented_commands(documents: list[Path] = DOCUMENTS) -> list[Command]:
    found = []
    for document in documents:
        for number, line in sh_blocks(document.read_text()):
            found += simple_commands(f"{document.relative_to(ROOT)}:{number}", line)
    return found


@functools.cache
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text()
    return frozenset(m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.-]+):(?!=)", text, re.MULTILINE))


@functools.cache
def help_text(module: str, subcommand: str | None = None) -> str:
    """`python -m module [subcommand] --help`, run from the repository root (nothing but argparse runs)."""
    argv = [sys.executable, "-m", module, *([subcommand] if subcommand else []), "--help"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(argv[1:])} failed:\n{done.stderr[-2000:]}"
    return done.stdout


def subcommands(help_output: str) -> set[str]:
    """The choices of the first `{a,b,c}` group of an argparse usage (its subparsers), if any."""
    usage = help_output.split("\n\n")[0]
    match = re.search(r"\{([\w,-]+)\}", usage)
    return set(match.group(1).split(",")) if match else set()


def problems_of(command: Command) -> list[str]:
    """What is wrong with one documented command (empty: it is real)."""
    program, args = command.words[0], list(command.words[1:])
    problems = _path_problems(args)
    if program == "make":
        problems += [f"no make target {t!r}" for t in args if not t.startswith("-") and t not in make_targets()]
    elif program in PYTHONS:
        problems += _python_problems(args)
    elif program.startswith(".venv/bin/"):
        if program.removeprefix(".venv/bin/") not in VENV_TOOLS:
            problems.append(f"{program} is not a tool the project installs into .venv")
    elif "/" in program:
        if not (ROOT / program).is_file():
            problems.append(f"no script {program}")
    elif program not in KNOWN_TOOLS:
        problems.append(f"{program!r} is neither the project's nor a known external tool (KNOWN_TOOLS)")
    return problems


def _python_problems(args: list[str]) -> list[str]:
    if not args:
        return ["python without a module or script"]
    if args[0] != "-m":
        return [] if (ROOT / args[0]).is_file() else [f"no script {args[0]}"]
    if len(args) < 2:
        return ["python -m without a module"]
    module, rest = args[1], args[2:]
    if importlib.util.find_spec(module) is None:
        return [f"no module {module}"]
    top = help_text(module)
    choices = subcommands(top)
    chosen = next((a for a in rest if a in choices), None)
    if choices and chosen is None:
        return [f"python -m {module} needs one of its subcommands {sorted(choices)}; got {rest}"]
    known = top + (help_text(module, chosen) if chosen else "")
    return [f"python -m {module}{' ' + chosen if chosen else ''} has no option {option}"
            for option in (a.split("=")[0] for a in rest if a.startswith("--"))
            if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", known)]


def _path_problems(args: list[str]) -> list[str]:
    problems = []
    skip_next = False
    for arg in args:
        if skip_next:  # the file a redirect or -o writes: made by the command itself
            skip_next = False
            continue
        if arg in _REDIRECTS or arg in ("-o", "--output-file"):
            skip_next = True
            continue
        path = arg.removeprefix("@")
        if not _looks_like_repo_path(path) or path in OPERATOR_FILES:
            continue
        if not (ROOT / path).exists():
            problems.append(f"no file {path} in the repository")
    return problems


def _looks_like_repo_path(text: str) -> bool:
    if not _PATH.match(text) or text.startswith((".local/", "/", "-")) or text in (".", ".."):
        return False
    return "/" in text.rstrip("/") or text.endswith(PATH_SUFFIXES)


COMMANDS = documented_commands()


def test_the_documents_have_commands_to_check() -> None:
    # Guards against the scan silently finding nothing (a renamed folder, a changed fence style).
    places = {c.where.split(":")[0] for c in COMMANDS}
    for document in ("README.md", "docs/deployment.md", "docs/SCALING.md", "SECURITY.md"):
        if (ROOT / document).exists() and "```sh" in (ROOT / document).read_text():
            assert document in places, f"{document} has ```sh blocks but no command was found in them"
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_documented_command_is_real(command: Command) -> None:
    assert problems_of(command) == [], str(command)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document: Path) -> None:
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.DOTALL)
    missing = [target for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
               if "://" not in target and not target.startswith("mailto:")
               and not (document.parent / target).exists()]
    assert missing == [], f"{document.relative_to(ROOT)} links to missing files: {missing}"


@pytest.mark.parametrize(("line", "expected"), [
    ("make no-such-target", "no make target 'no-such-target'"),
    ("python -m no_such_module_here", "no module no_such_module_here"),
    (".venv/bin/python -m api.auth frobnicate", "needs one of its subcommands"),
    ("python -m plugins.migrate_cli --no-such-flag", "has no option --no-such-flag"),
    ("python -m api.auth rotate <key id> --no-such-grace 1h", "api.auth rotate has no option --no-such-grace"),
    ("az deployment group create -f infra/nope.bicep", "no file infra/nope.bicep"),
    ("az deployment group create -p @infra/parameters/nope.parameters.json", "no file infra/parameters/nope"),
    ("KEY=$(frobnicator --make-key) && curl -s x", "'frobnicator' is neither the project's"),
    ("scripts/no-such-script.sh start", "no script scripts/no-such-script.sh"),
])
def test_the_checker_catches_unreal_commands(line: str, expected: str) -> None:
    problems = [p for c in simple_commands("example", line) for p in problems_of(c)]
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("line", [
    "make demo",
    "BIZ_PG_OWNER_DSN=postgresql://x@h/db .venv/bin/python -m plugins.migrate_cli --check",
    ".venv/bin/python -m devhost --store .local/devhost.sqlite status sync-qbo-demo",
    "python -m plugins.connections_cli apply connections.yaml --prune",
    "az deployment group create -g rg -f infra/main.bicep -p @infra/parameters/dev.parameters.json",
    'curl -s -H "Authorization: Bearer $(cat .local/api-key)" $API/api/syncs > runs.json',
])
def test_the_checker_accepts_real_commands(line: str) -> None:
    assert [p for c in simple_commands("example", line) for p in problems_of(c)] == []
