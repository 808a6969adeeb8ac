"""The admin's health badges and a config's recent runs, in a real headless Chromium (issue 27). The
approach of tests/config/test_admin_browser.py: Debian's chromium driven by Playwright, the service in
a thread on the test database. The screenshot is test-artifacts/admin-config-health.png."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from signalsource import runs
from signalsource.models import SignalSourceConfig, SignalSourceRun
from tests.config.test_admin_browser import (  # noqa: F401
    CHROMIUM,
    CHROMIUM_ARGS,
    OPERATOR_PASSWORD,
    log_in_as_the_operator,
    service_url,
)
from tests.helpers import PROJECT_DIR, make_config, make_project

SCREENSHOT = PROJECT_DIR / "test-artifacts" / "admin-config-health.png"
RUNS_SCREENSHOT = PROJECT_DIR / "test-artifacts" / "admin-config-runs.png"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no browser: Debian's chromium is not installed at {CHROMIUM}"
)


def _configs_in_every_state():
    project = make_project(name="Checkout")
    healthy = make_config(project, "github", "issue")
    run = runs.start_run(healthy)
    runs.report_run(run, state="completed", items_processed=40, signals_emitted=3)
    failing = make_config(project, "linear", "issue")
    run = runs.start_run(failing)
    runs.report_run(run, state="failed", error={"code": "rate_limited", "message": "Linear answered 429"})
    stale = make_config(project, "zendesk", "ticket")
    runs.start_run(stale)
    past = timezone.now() - django_settings.RUN_STALE_AFTER * 2
    SignalSourceRun.objects.filter(config=stale).update(started_at=past, heartbeat_at=past)
    SignalSourceConfig.objects.filter(pk=stale.pk).update(run_heartbeat_at=past)
    dormant = make_config(project, "llm_analytics", "evaluation")
    run = runs.start_run(dormant)
    runs.report_run(run, state="completed", items_processed=5)
    long_ago = timezone.now() - django_settings.DORMANT_AFTER - timedelta(days=1)
    SignalSourceRun.objects.filter(config=dormant).update(started_at=long_ago)
    make_config(project, "session_replay", "session_analysis_cluster")  # never ran
    return {"healthy": healthy, "failing": failing, "stale": stale, "dormant": dormant}


def test_the_config_list_shows_health_badges_and_a_config_its_recent_runs(service_url, django_user_model, settings):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_superuser("operator", "operator@example.com", OPERATOR_PASSWORD)
    configs = _configs_in_every_state()

    SCREENSHOT.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.set_default_timeout(15_000)
        log_in_as_the_operator(page, service_url)

        page.goto(f"{service_url}/admin/signalsource/signalsourceconfig/")
        for state in ("healthy", "failing", "stale", "dormant", "never_ran"):
            expect(page.locator(f".health-badge.health-{state}")).to_have_count(1)
        failing_row = page.locator("tr", has=page.locator(".health-badge.health-failing"))
        expect(failing_row).to_contain_text("rate_limited: Linear answered 429")
        stale_row = page.locator("tr", has=page.locator(".health-badge.health-stale"))
        expect(stale_row).to_contain_text("stale: No heartbeat")
        expect(stale_row).to_contain_text("Failed")  # the status as the API shows it
        assert (
            page.locator(".health-badge.health-failing").evaluate("badge => getComputedStyle(badge).backgroundColor")
            == "rgb(198, 40, 40)"
        )
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.goto(f"{service_url}/admin/signalsource/signalsourceconfig/{configs['failing'].pk}/change/")
        table = page.locator("table.recent-runs")
        expect(table).to_contain_text("failed")
        expect(table).to_contain_text("rate_limited: Linear answered 429")
        page.screenshot(path=str(RUNS_SCREENSHOT), full_page=True)
        browser.close()
