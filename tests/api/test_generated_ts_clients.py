"""TypeScript clients generated from the description the server serves, used as generated, work
end to end against a live server: openapi-typescript's types with openapi-fetch, and
@hey-api/openapi-ts's SDK. Each is type-checked with `tsc --strict` and run with node. Redocly's
`recommended` lint passes on the same description.

The node tools are pinned in `clients/package-lock.json`; `make test` installs them (`npm ci`).
"""

import shutil
import subprocess
import urllib.request
import uuid

import pytest

from tests.helpers import PROJECT_DIR

pytestmark = pytest.mark.live_server_process  # starts a real server (live_service)

CLIENTS_DIR = PROJECT_DIR / "clients"
BIN = CLIENTS_DIR / "node_modules" / ".bin"
CHECKS = ("openapi-fetch-check.ts", "hey-api-check.ts", "tsconfig.json")


def run(*command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def built_clients(live_service):
    """Generates both clients from the served description, type-checks and compiles them with their
    check programs; yields the folder (inside `clients/`, where node finds node_modules)."""
    if not BIN.exists() or shutil.which("node") is None:
        pytest.fail("node and clients/node_modules are needed: install Node 20+, then `make test` runs `npm ci`")
    folder = CLIENTS_DIR / "build" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        with urllib.request.urlopen(f"{live_service.base_url}/api/schema/", timeout=30) as response:  # noqa: S310 -- loopback
            (folder / "openapi.yaml").write_bytes(response.read())
        for name in CHECKS:
            shutil.copy(CLIENTS_DIR / name, folder / name)
        run(BIN / "openapi-typescript", "openapi.yaml", "--output", "schema.d.ts", cwd=folder)
        run(
            BIN / "openapi-ts",
            "--input",
            "openapi.yaml",
            "--output",
            "hey",
            "--client",
            "@hey-api/client-fetch",
            cwd=folder,
        )
        run(BIN / "tsc", "--project", "tsconfig.json", "--outDir", "out", cwd=folder)  # strict: see tsconfig.json
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("check", ["openapi-fetch-check", "hey-api-check"])
def test_generated_client_round_trip(built_clients, live_service, check):
    # A project of this test's own on the shared server, so that no other test's config collides.
    project_id = live_service.manage("create_project", f"{check} project", "--member", "live@example.com")
    env = {
        **live_service.env,
        "BASE_URL": live_service.base_url,
        "API_KEY": live_service.raw_key,
        "PROJECT_ID": project_id,
    }
    output = run("node", f"out/{check}.js", cwd=built_clients, env=env)
    assert "round trip: ok" in output, output


def test_redocly_recommended_lint_passes(built_clients):
    output = run(BIN / "redocly", "lint", "--config", CLIENTS_DIR / "redocly.yaml", "openapi.yaml", cwd=built_clients)
    assert "Your API description is valid" in output, output  # errors fail it; warnings are allowed
