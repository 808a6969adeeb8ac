"""docs/api.md's curl examples of upsert by source and bulk, pasted into bash as printed and run against
a live server; then what they left behind is read back. (tests/config/test_docs.py runs every block of
the docs in order and compares their output; this checks the state these two leave.)"""

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


def guide_blocks() -> str:
    guide = (PROJECT_DIR / "docs" / "api.md").read_text()
    start = guide.index("## Upsert by source, and bulk")
    section = guide[start : guide.index("\n## ", start + 1)]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))


def test_the_guides_upsert_and_bulk_examples_work_as_printed(live_service):
    project_id = live_service.manage("create_project", "README upsert project", "--member", "live@example.com")
    script = "set -eo pipefail\n" + guide_blocks()
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "BASE": live_service.base_url,
            "PROJECT_ID": str(project_id),
            "AUTH": f"Authorization: Bearer {live_service.raw_key}",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The statuses each curl printed: the upsert's create, the create-only refusal, the delete, the 404.
    assert [line for line in result.stdout.splitlines() if line.isdigit()] == ["201", "412", "204", "404"]

    status, _, body = call(
        live_service.base_url, "GET", f"/api/projects/{project_id}/signals/source_configs/", live_service.raw_key
    )
    assert status == 200
    configs = {(c["source_product"], c["source_type"]): c for c in body["results"]}
    # linear+issue was upserted, merged into, then deleted by source; the bulk made two.
    assert set(configs) == {("error_tracking", "issue_created"), ("error_tracking", "issue_spiking")}
    assert configs[("error_tracking", "issue_created")]["enabled"] is True
    assert configs[("error_tracking", "issue_spiking")]["config"] == {"min": 5}
