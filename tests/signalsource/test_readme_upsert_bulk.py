"""The README's curl examples for issue 28 (upsert by source, bulk), pasted into bash as printed and
run against a live server, each curl refusing to go on after an error status."""

import re
import shutil
import subprocess

import pytest

from tests.helpers import PROJECT_DIR
from tests.live_server import call

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary"),
]


def readme_block() -> str:
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme[readme.index("## Upsert by source and bulk changes") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readmes_upsert_and_bulk_examples_work_as_printed(live_service):
    project_id = live_service.manage("create_project", "README upsert project", "--member", "live@example.com")
    # Each curl as printed, made to fail the script on an error status (and to end its output).
    script = 'set -e\ncurl() { command curl -sS --fail-with-body "$@"; echo; }\n' + readme_block()
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "POSTHOG_HOST": live_service.base_url,
            "PROJECT_ID": str(project_id),
            "POSTHOG_PERSONAL_API_KEY": live_service.raw_key,
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr

    status, _, body = call(
        live_service.base_url, "GET", f"/api/projects/{project_id}/signals/source_configs/", live_service.raw_key
    )
    assert status == 200
    configs = {(c["source_product"], c["source_type"]): c for c in body["results"]}
    assert set(configs) == {
        ("github", "issue"),
        ("error_tracking", "issue_created"),
        ("error_tracking", "issue_reopened"),
        ("error_tracking", "issue_spiking"),
    }
    github = configs[("github", "issue")]
    assert (github["enabled"], github["config"]) == (False, {"steering": "bugs only", "team": "web"})
    assert configs[("error_tracking", "issue_spiking")]["config"] == {"min": 5}
