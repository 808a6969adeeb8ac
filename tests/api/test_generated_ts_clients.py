"""TypeScript clients generated from the description the server serves, used as generated, work
end to end against a live server: openapi-typescript's types with openapi-fetch, @hey-api/openapi-ts's
SDK, openapi-zod-client's Zodios client, orval's axios and fetch clients, and swagger-typescript-api's
client. Each is type-checked with `tsc --strict` and run with node (`clients/*-check.ts`). Redocly's
`recommended` lint passes on the same description.

The node tools are pinned in `clients/package-lock.json`; `make test` installs them (`npm ci`).
"""

import os
import shutil
import subprocess
import urllib.request
import uuid

import pytest

from tests.helpers import PROJECT_DIR

pytestmark = pytest.mark.live_server_process  # starts a real server (live_service)

CLIENTS_DIR = PROJECT_DIR / "clients"
BIN = CLIENTS_DIR / "node_modules" / ".bin"
CHECKS = (
    "openapi-fetch-check.ts",
    "hey-api-check.ts",
    "zod-client-check.ts",
    "orval-axios-check.ts",
    "orval-fetch-check.ts",
    "swagger-typescript-api-check.ts",
    "orval.config.js",
    "tsconfig.json",
)


def run(*command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def run_together(*commands, cwd, env):
    """Runs independent commands concurrently; fails with the output of each that failed."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    processes = [(command, subprocess.Popen(command, cwd=cwd, env=env, **pipes)) for command in commands]
    failures = []
    for command, process in processes:
        stdout, stderr = process.communicate(timeout=300)
        if process.returncode != 0:
            failures.append(f"{' '.join(map(str, command))}\n{stdout}\n{stderr}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def built_clients(live_service):
    """Generates every client from the served description, type-checks and compiles them with their
    check programs in one `tsc` run; yields the folder (inside `clients/`, where node finds node_modules)."""
    if not BIN.exists() or shutil.which("node") is None:
        pytest.fail("node and clients/node_modules are needed: install Node 20+, then `make test` runs `npm ci`")
    folder = CLIENTS_DIR / "build" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        with urllib.request.urlopen(f"{live_service.base_url}/api/schema/", timeout=30) as response:  # noqa: S310 -- loopback
            (folder / "openapi.yaml").write_bytes(response.read())
        for name in CHECKS:
            shutil.copy(CLIENTS_DIR / name, folder / name)
        # The generators at once: each is mostly node starting up, and they write to separate places.
        run_together(
            [BIN / "openapi-typescript", "openapi.yaml", "--output", "schema.d.ts"],
            [BIN / "openapi-ts", "--input", "openapi.yaml", "--output", "hey", "--client", "@hey-api/client-fetch"],
            [BIN / "openapi-zod-client", "openapi.yaml", "--output", "zod-client.ts"],
            # Both of orval's clients (orval.config.js); the fetch one's URLs start with this server's origin.
            [BIN / "orval", "--config", "orval.config.js"],
            # Named path parameters ({projectId, id}): positional ones come in the description's order,
            # (id, projectId), and a swapped call type-checks.
            [BIN / "swagger-typescript-api", "generate", "--path", "openapi.yaml", "--output", "sta",
             "--name", "Api.ts", "--extract-request-params"],
            cwd=folder,
            env={**os.environ, "BASE_URL": live_service.base_url},
        )  # fmt: skip
        run(BIN / "tsc", "--project", "tsconfig.json", "--outDir", "out", cwd=folder)  # strict: see tsconfig.json
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ROUND_TRIPS = (
    "openapi-fetch-check",
    "hey-api-check",
    "zod-client-check",
    "orval-axios-check",
    "orval-fetch-check",
    "swagger-typescript-api-check",
)


@pytest.fixture(scope="module")
def project_ids(live_service):
    """A project of each round trip's own on the shared server, so that no check's configs collide with
    another's; made in one `manage.py` process (each one starts Django: seconds on a loaded machine)."""
    script = "from projects.services import create_project\n" + "".join(
        f"print(create_project({f'{check} project'!r}, 'live@example.com').id)\n" for check in ROUND_TRIPS
    )
    ids = live_service.manage("shell", "--no-imports", "--command", script).split()
    assert len(ids) == len(ROUND_TRIPS), ids
    return dict(zip(ROUND_TRIPS, ids, strict=True))


@pytest.mark.parametrize("check", ROUND_TRIPS)
def test_generated_client_round_trip(built_clients, live_service, project_ids, check):
    env = {
        **live_service.env,
        "BASE_URL": live_service.base_url,
        "API_KEY": live_service.raw_key,
        "PROJECT_ID": project_ids[check],
    }
    output = run("node", f"out/{check}.js", cwd=built_clients, env=env)
    assert "round trip: ok" in output, output


def test_redocly_recommended_lint_passes(built_clients):
    output = run(BIN / "redocly", "lint", "--config", CLIENTS_DIR / "redocly.yaml", "openapi.yaml", cwd=built_clients)
    assert "Your API description is valid" in output, output  # errors fail it; warnings are allowed
