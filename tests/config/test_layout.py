"""The folder layout is the architecture: apps depend in one direction, and the project configuration
works from anywhere (manage.py without DJANGO_SETTINGS_MODULE, WSGI_APPLICATION importable)."""

import ast
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from tests.helpers import PROJECT_DIR

# Lowest first: an app may import from itself and from the apps before it, never from those after it.
LAYERS = ["common", "projects", "auth_keys", "api", "activity_log", "change_events", "signalsource"]


def imported_apps(app: str) -> dict[str, set[str]]:
    """For each module of `app`, the other apps of ours it imports."""
    found = {}
    for path in (PROJECT_DIR / app).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        apps = {name.split(".")[0] for name in names} & (set(LAYERS) | {"config"})
        found[str(path.relative_to(PROJECT_DIR))] = apps - {app}
    return found


def test_every_app_of_ours_has_a_place_in_the_layers():
    ours = [app for app in settings.INSTALLED_APPS if (PROJECT_DIR / app).is_dir()]
    assert ours == LAYERS


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_only_from_the_apps_below_it(app):
    allowed = set(LAYERS[: LAYERS.index(app)])
    wrong = {module: apps - allowed for module, apps in imported_apps(app).items() if apps - allowed}
    assert wrong == {}


def test_projects_know_nothing_of_keys():
    assert not any("auth_keys" in apps for apps in imported_apps("projects").values())


def test_the_wsgi_application_setting_names_an_importable_application():
    assert callable(import_string(settings.WSGI_APPLICATION))


def test_manage_py_works_without_django_settings_module():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.setdefault("SECRET_KEY", "layout-test-secret-key")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
