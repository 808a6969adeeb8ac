"""Spectral's OpenAPI rules and OWASP's API security ruleset (`clients/spectral.yaml`) on the
committed description: every error left is one that `clients/spectral-allowlist.yaml` explains, and
every entry there still matches an error (issue 30). Warnings are not failures.

The node tools are pinned in `clients/package-lock.json`; `make test` installs them (`npm ci`).
"""

import fnmatch
import json
import shutil
import subprocess

import pytest
import yaml

from tests.helpers import OPENAPI_FILE, PROJECT_DIR

CLIENTS_DIR = PROJECT_DIR / "clients"
SPECTRAL = CLIENTS_DIR / "node_modules" / ".bin" / "spectral"
ALLOWLIST = CLIENTS_DIR / "spectral-allowlist.yaml"
ERROR = 0  # Spectral's severity


def spectral_results(description) -> list[dict]:
    if not SPECTRAL.exists() or shutil.which("node") is None:
        pytest.fail("node and clients/node_modules are needed: install Node 20+, then `make test` runs `npm ci`")
    result = subprocess.run(
        [SPECTRAL, "lint", "--ruleset", CLIENTS_DIR / "spectral.yaml", "--format", "json", "--quiet", description],
        cwd=CLIENTS_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 1: it found errors; anything else but 0 is Spectral failing to run.
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def unexplained(results, allowlist) -> tuple[list[str], list[dict]]:
    """The errors no entry explains, and the entries that explain none."""
    used, left = set(), []
    for found in results:
        if found["severity"] != ERROR:
            continue
        path = "/".join(map(str, found["path"]))
        matches = [
            index
            for index, entry in enumerate(allowlist)
            if entry["rule"] == found["code"] and fnmatch.fnmatchcase(path, entry["path"])
        ]
        if matches:
            used.add(matches[0])  # the first entry that matches explains it
        else:
            left.append(f"{found['code']} at {path}: {found['message']}")
    return left, [entry for index, entry in enumerate(allowlist) if index not in used]


def test_every_owasp_error_is_explained():
    allowlist = yaml.safe_load(ALLOWLIST.read_text())
    assert all(entry.get("why", "").strip() for entry in allowlist), "each entry says why"
    results = spectral_results(OPENAPI_FILE)
    assert results, "Spectral found nothing at all: is the ruleset loaded?"
    left, stale = unexplained(results, allowlist)
    assert not left, "errors the allow-list does not explain:\n" + "\n".join(left[:30])
    assert not stale, f"allow-list entries that match no error (remove them): {stale}"


def test_an_error_that_is_not_allowed_fails(tmp_path):
    """The lint reads the description it is given: an operation with an undeclared path parameter,
    an error under Spectral's own rules, is one no entry explains."""
    description = yaml.safe_load(OPENAPI_FILE.read_text())
    path_item = description["paths"]["/api/projects/{project_id}/activity_log/"]
    description["paths"]["/api/projects/{project_id}/activity_log/{undeclared}/"] = path_item
    planted = tmp_path / "openapi.yaml"
    planted.write_text(yaml.safe_dump(description))
    left, _ = unexplained(spectral_results(planted), yaml.safe_load(ALLOWLIST.read_text()))
    assert any("path-params" in error for error in left), left
