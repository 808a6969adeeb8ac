"""Every shell block of README.md and docs/*.md, run in order in one bash shell against a live server.

The convention (README, "Documentation"):
- A ```sh (or bash, shell) block is run, after the blocks before it, in the same shell: variables
  set by one block are there for the next, as for a reader pasting them in order.
- What it prints (stdout and stderr) must be what the ```text block right after it shows, or
  nothing when none follows. In the shown output, `...` matches anything within a line, and a line
  of only `...` matches any number of lines. UUIDs, times, 32-hex ids and raw keys are normalised on
  both sides, so the doc may show real-looking ones.
- A block fails when any command in it exits non-zero (bash's ERR trap, with pipefail).
- A block right after a line `<!-- no-test: why -->` is not run; the test prints which and why.
- The docs address the server as `http://127.0.0.1:8000` (where `make run` serves); the test points
  that at its own server, and runs `manage.py` with its server's database, as a reader's shell in the
  checkout does with `make run`'s.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.change_events.nats_stream import nats_stream
from tests.helpers import PROJECT_DIR

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary"),
]

DOC_ADDRESS = "127.0.0.1:8000"
SHELL_LANGUAGES = {"sh", "bash", "shell"}
NO_TEST = re.compile(r"<!--\s*no-test:\s*(.+?)\s*-->")
FENCE = re.compile(r"^```(\S*)\s*$")
# A guard against a hang, not a speed measurement.
HANG_GUARD_SECONDS = 900


@dataclass
class Block:
    where: str  # file:line of the opening fence
    code: str
    expected: str | None  # the ```text block after it, if any
    skip_reason: str | None


def doc_files() -> list[Path]:
    return [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    fences = []  # (language, first line index, body lines, line index after the closing fence)
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        fences.append((match.group(1), i, lines[i + 1 : end], end + 1))
        i = end + 1
    found = []
    for n, (language, start, body, after) in enumerate(fences):
        if language not in SHELL_LANGUAGES:
            continue
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        skip = NO_TEST.search(before)
        expected = None
        following = fences[n + 1] if n + 1 < len(fences) else None
        if following and following[0] == "text" and not "".join(lines[after : following[1]]).strip():
            expected = "\n".join(following[2])
        where = f"{path.relative_to(PROJECT_DIR)}:{start + 1}"
        found.append(Block(where, "\n".join(body) + "\n", expected, skip.group(1) if skip else None))
    return found


NORMALISE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
    (re.compile(r"phx_[A-Za-z0-9_-]{20,}"), "phx_<key>"),
]


def normalise(text: str) -> list[str]:
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def matches(expected: str | None, actual: str) -> bool:
    """`...` matches within a line; a line of `...` matches any lines (none included)."""
    actual_lines = normalise(actual)
    if expected is None:
        return actual_lines == []
    parts = []
    for line in normalise(expected):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.split("...")) + r"\n")
    return re.fullmatch("".join(parts), "".join(line + "\n" for line in actual_lines), re.S) is not None


def test_the_blocks_are_found_and_each_skip_says_why():
    blocks = [block for path in doc_files() for block in blocks_of(path)]
    readme = blocks_of(PROJECT_DIR / "README.md")
    assert any(block.skip_reason is None for block in readme), "the README has no block the test runs"
    assert all(block.skip_reason.strip() for block in blocks if block.skip_reason is not None)


def run_blocks(blocks: list[Block], env: dict, port: int, work: Path) -> list[tuple[Block, int, bool, str]]:
    """Sources each block in one bash shell; returns (block, exit status, an ERR seen, output)."""
    driver = ["set -o pipefail", "trap '__err=1' ERR"]
    for n, block in enumerate(blocks):
        (work / f"{n}.sh").write_text(block.code.replace(DOC_ADDRESS, f"127.0.0.1:{port}"))
        out, rc = work / f"{n}.out", work / f"{n}.rc"
        driver.append(f'__err=0; source "{work}/{n}.sh" > "{out}" 2>&1 < /dev/null; echo "$? $__err" > "{rc}"')
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", "\n".join(driver)],
        cwd=PROJECT_DIR,
        env=env,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    results = []
    for n, block in enumerate(blocks):
        rc_file = work / f"{n}.rc"
        if not rc_file.exists():  # the shell stopped before this block (an `exit` in a block)
            results.append((block, -1, True, "(not run: the shell stopped before this block)"))
            continue
        status, err = rc_file.read_text().split()
        output = (work / f"{n}.out").read_text().replace(f"127.0.0.1:{port}", DOC_ADDRESS)
        results.append((block, int(status), err == "1", output))
    return results


def test_every_shell_block_of_the_docs_runs_in_order_and_prints_what_the_doc_shows(tmp_path):
    from tests.live_server import live_database, served

    blocks = [block for path in doc_files() for block in blocks_of(path)]
    to_run = [block for block in blocks if block.skip_reason is None]
    skipped = [block for block in blocks if block.skip_reason is not None]
    print(f"\n{len(to_run)} blocks run, {len(skipped)} not run:")
    for block in skipped:
        print(f"  {block.where}: {block.skip_reason}")

    with live_database(tmp_path) as service, nats_stream() as stream:
        env = {k: v for k, v in service.env.items() if k not in {"BASE", "KEY", "AUTH", "PROJECT_ID", "PORT", "HOST"}}
        # The relay's and watcher's NATS stream: one of this test's own (the docs use the defaults).
        env.update(EVENTS_NATS_STREAM=stream.name, EVENTS_NATS_SUBJECT_PREFIX=stream.prefix)
        with served(service.env["DATABASE_URL"], workers=2) as (base_url, _):
            port = int(base_url.rsplit(":", 1)[1])
            work = tmp_path / "blocks"
            work.mkdir()
            results = run_blocks(to_run, env, port, work)

    failures = []
    for block, status, err, output in results:
        if status != 0 or err:
            failures.append(f"{block.where}: a command failed (exit {status}); it printed:\n{output}")
        elif not matches(block.expected, output):
            shown = block.expected if block.expected is not None else "(nothing: no ```text block follows)"
            failures.append(f"{block.where}: printed\n{output}\nwhere the doc shows\n{shown}")
    assert not failures, f"{len(failures)} of {len(to_run)} blocks failed:\n\n" + "\n\n".join(failures)


def test_every_setting_the_code_reads_is_in_the_settings_table():
    """docs/operations.md's table names each environment variable the settings and the server read."""
    names = set()
    for source in ("config/settings.py", "api/server.py"):
        text = (PROJECT_DIR / source).read_text()
        names |= set(re.findall(r"""env(?:\.\w+|_names)\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))
        names |= set(re.findall(r"""environ(?:, )?\s*(?:\.get\()?\s*["']([A-Z][A-Z0-9_]+)["']""", text))
        names |= set(re.findall(r"""_int\(environ, ["']([A-Z][A-Z0-9_]+)["']""", text))
    names -= {"TEST_DATABASE_NAME"}  # the test suite's own
    table = (PROJECT_DIR / "docs" / "operations.md").read_text()
    first_cells = re.findall(r"^\|([^|\n]*)\|", table, re.M)
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    assert len(names) > 20, f"the settings were not found in the code: {sorted(names)}"
    assert sorted(names - documented) == [], "settings missing from docs/operations.md's table"
