"""The operators' admin end to end, in a real headless Chromium (issue 8).

Debian's `chromium` package is driven by Playwright; nothing is installed at run time (`.ci/run`
installs the browser). The service runs in a thread of this test on the test database, through the
same WSGI application and middleware as production, so whitenoise serves the admin's static files.
"""

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.test.testcases import LiveServerThread

from tests.helpers import PROJECT_DIR, Tenant, make_config, make_key, make_organization, make_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = PROJECT_DIR / "test-artifacts" / "admin-config-list.png"
ADD_SCREENSHOT = PROJECT_DIR / "test-artifacts" / "admin-config-add.png"
OPERATOR_PASSWORD = "operator-password-for-tests"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no browser: Debian's chromium is not installed at {CHROMIUM}"
)


def _whole_app(media_handler):
    # LiveServerThread would put Django's own static file handler in front of the app; production
    # has only the app (whitenoise in its middleware), so hand the server the bare app.
    return media_handler.application


@pytest.fixture
def service_url(transactional_db):
    """The service on a free port of 127.0.0.1, sharing the test database (SQLite's in-memory one is
    shared with the server's thread, PostgreSQL's is reached by a connection of its own)."""
    from django.db import connections

    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    thread = LiveServerThread("127.0.0.1", static_handler=_whole_app, connections_override=shared)
    thread.daemon = True
    for connection in shared.values():
        connection.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait()
    try:
        if thread.error:
            raise thread.error
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for connection in shared.values():
            connection.dec_thread_sharing()


def api_get(url, raw_key):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {raw_key}"})  # noqa: S310 -- loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
        return response.status, json.loads(response.read())


def choose_autocomplete(page, field_id, text):
    """Picks `text` in one of the admin's autocomplete (select2) fields."""
    page.click(f"#{field_id} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", text)
    page.locator(".select2-results__option", has_text=text).first.click()


def log_in_as_the_operator(page, service_url):
    """Signs in to the admin as the superuser `operator` the test created."""
    from playwright.sync_api import expect

    page.goto(f"{service_url}/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", OPERATOR_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#content h1")).to_have_text("Site administration")


def test_operator_creates_a_project_a_key_and_a_config_in_the_browser(service_url, django_user_model, settings):
    from playwright.sync_api import expect, sync_playwright

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Everything the test does through the ORM happens before the browser starts: Playwright's sync
    # API runs an event loop in this thread, and Django refuses database calls beside one.
    django_user_model.objects.create_superuser("operator", "operator@example.com", OPERATOR_PASSWORD)
    developer = make_user("developer@example.com")
    organization = make_organization("Acme")
    organization.members.add(developer)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(15_000)
        stylesheets = []
        page.on(
            "response",
            lambda response: stylesheets.append(response.status) if response.url.endswith(".css") else None,
        )

        # Log in as the superuser.
        page.goto(f"{service_url}/admin/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", OPERATOR_PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#site-name")).to_be_visible()
        expect(page.locator("#content h1")).to_have_text("Site administration")
        assert stylesheets and set(stylesheets) == {200}, stylesheets  # served by the service itself

        # A project in the developer's organization.
        page.goto(f"{service_url}/admin/projects/project/add/")
        page.fill("#id_name", "Checkout")
        choose_autocomplete(page, "id_organization", "Acme")
        page.click("input[name=_continue]")
        expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
        project_id = int(re.search(r"/admin/projects/project/(\d+)/change/", page.url).group(1))
        expect(page.locator(".field-members")).to_contain_text("developer@example.com")

        # A key for the developer, read from the page that answers the save.
        page.goto(f"{service_url}/admin/auth_keys/personalapikey/add/")
        choose_autocomplete(page, "id_user", "developer@example.com")
        page.fill("#id_label", "browser test")
        page.check("input[name=scopes][value='task:read']")
        page.check("input[name=scopes][value='task:write']")
        page.click("input[name=_save]")
        raw_key = page.inner_text("#raw-api-key").strip()
        assert raw_key.startswith("phx_"), raw_key
        assert page.content().count(raw_key) == 1

        configs_url = f"{service_url}/api/projects/{project_id}/signal_source_configs/"
        status, body = api_get(configs_url, raw_key)
        assert (status, body["count"]) == (200, 0), body

        # Gone once the operator moves on.
        page.click("text=All keys")
        expect(page.locator("#result_list")).to_contain_text("browser test")
        assert raw_key not in page.content()

        # A config, made in the admin, listed by the API.
        page.goto(f"{service_url}/admin/signalsource/signalsourceconfig/add/")
        choose_autocomplete(page, "id_project", "Checkout")
        page.select_option("#id_source", "linear/issue")
        page.fill("#id_config", '{"linear_team_ids": [" eng "], "steering": "Only bugs"}')
        page.screenshot(path=str(ADD_SCREENSHOT), full_page=True)
        page.click("input[name=_save]")
        expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
        expect(page.locator("#result_list")).to_contain_text("Linear: issues")

        status, body = api_get(configs_url, raw_key)
        assert (status, body["count"]) == (200, 1), body
        [config] = body["results"]
        assert (config["source_product"], config["source_type"], config["enabled"]) == ("linear", "issue", True)
        assert config["config"] == {"linear_team_ids": ["eng"], "steering": "Only bugs"}

        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert SCREENSHOT.stat().st_size > 0


# Both routes' create operations: (Swagger UI's tag, the route, the screenshot).
SWAGGER_CREATES = {
    "published": ("signal_source_configs", "signal_source_configs", "swagger-ui-create.png"),
    "today's": ("signals_source_configs", "signals/source_configs", "swagger-ui-create-signals.png"),
}


def sources_the_docs_mention():
    """Every catalog source whose product README.md or docs/ name: what a reader who followed them
    may have created already."""
    from signalsource import catalog

    text = "\n".join(path.read_text() for path in [PROJECT_DIR / "README.md", *(PROJECT_DIR / "docs").rglob("*.md")])
    return [source for source in catalog.SOURCES if re.search(rf"\b{re.escape(source.product)}\b", text)]


def open_swagger_ui_with_a_key(page, service_url, raw_key):
    page.goto(f"{service_url}/api/schema/swagger-ui/")
    page.click("button.authorize")
    page.locator(".modal-ux input").first.fill(raw_key)
    page.click(".modal-ux .auth-btn-wrapper button.authorize")
    page.click(".modal-ux button.btn-done")


def try_out(page, operation_id, tag, project_id):
    """Swagger UI's operation, opened, in "Try it out" mode, for this project."""
    operation = page.locator(f"#operations-{tag}-{operation_id}")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("tr[data-param-name='project_id'] input").fill(str(project_id))
    return operation


@pytest.mark.parametrize("route", SWAGGER_CREATES)
def test_swagger_ui_default_create_example_succeeds(service_url, settings, route):
    """A developer on the docs page, after following the README and docs/ (every source they name is
    already configured): authorize with a key, "Try it out" on create, execute the example as
    Swagger UI fills it in. It must be a 201 and show in the API."""
    tag, path, screenshot = SWAGGER_CREATES[route]
    swagger_screenshot = PROJECT_DIR / "test-artifacts" / screenshot
    from playwright.sync_api import expect, sync_playwright

    tenant = Tenant()
    project_id, raw_key = tenant.project.id, tenant.raw_key
    made_by_the_docs = sources_the_docs_mention()
    assert any(source.product == "session_replay" for source in made_by_the_docs)  # the walk-through's
    for source in made_by_the_docs:
        make_config(tenant.project, source.product, source.type)
    swagger_screenshot.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(15_000)
        open_swagger_ui_with_a_key(page, service_url, raw_key)

        operation = try_out(page, f"{tag}_create", tag, project_id)
        example = json.loads(operation.locator("textarea.body-param__text").input_value())
        operation.locator("button.execute").click()

        live = operation.locator(".live-responses-table tr.response .response-col_status").first
        expect(live).to_have_text("201")
        page.screenshot(path=str(swagger_screenshot), full_page=True)
        browser.close()

    status, body = api_get(f"{service_url}/api/projects/{project_id}/{path}/?limit=1", raw_key)
    assert (status, body["count"]) == (200, len(made_by_the_docs) + 1), body
    [config] = body["results"]  # newest first
    assert (config["source_product"], config["source_type"]) == (example["source_product"], example["source_type"])
    assert config["config"] == example["config"]


@pytest.mark.parametrize("route", SWAGGER_CREATES)
def test_swagger_ui_sends_a_merge_patch(service_url, route):
    """PATCH in Swagger UI with `application/merge-patch+json` picked in its content-type list: the
    example is merged into the stored config (keys it leaves out are kept)."""
    tag, path, _ = SWAGGER_CREATES[route]
    from playwright.sync_api import expect, sync_playwright

    tenant = Tenant()
    project_id, raw_key = tenant.project.id, tenant.raw_key
    stored = make_config(tenant.project, "github", "issue", config={"default_not_actionable": True, "labels": ["bug"]})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(15_000)
        open_swagger_ui_with_a_key(page, service_url, raw_key)

        operation = try_out(page, f"{tag}_partial_update", tag, project_id)
        operation.locator("tr[data-param-name='id'] input").fill(str(stored.id))
        operation.locator("select[aria-label='Request content type']").select_option("application/merge-patch+json")
        example = json.loads(operation.locator("textarea.body-param__text").input_value())
        operation.locator("button.execute").click()

        live = operation.locator(".live-responses-table tr.response .response-col_status").first
        expect(live).to_have_text("200")
        browser.close()

    status, config = api_get(f"{service_url}/api/projects/{project_id}/{path}/{stored.id}/", raw_key)
    assert status == 200, config
    assert example["config"]["default_not_actionable"] is None  # the example removes a key
    assert config["config"] == {"labels": ["bug"], "steering": example["config"]["steering"]}


# Each docs page and what shows it has loaded.
DOCS_PAGES = {"/api/schema/redoc/": "text=API docs by Redocly", "/api/schema/swagger-ui/": ".opblock"}


@pytest.mark.parametrize("docs_page", DOCS_PAGES)
def test_docs_pages_ask_nothing_of_another_host(service_url, docs_page):
    """Every request a docs page makes goes to this service and succeeds (Redoc's sidebar logo would
    come from cdn.redoc.ly), and its icon and /favicon.ico are found."""
    from playwright.sync_api import sync_playwright

    requests, failures, answers = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(15_000)
        page.on("request", lambda request: requests.append(request.url))
        page.on("requestfailed", lambda request: failures.append((request.url, request.failure)))
        page.on("response", lambda response: answers.append((response.url, response.status)))
        page.goto(f"{service_url}{docs_page}")
        page.locator(DOCS_PAGES[docs_page]).first.wait_for()
        page.wait_for_load_state("networkidle")
        icon = page.locator("link[rel~=icon]").first.get_attribute("href")
        icon_status = page.request.get(urllib.parse.urljoin(page.url, icon)).status
        favicon_status = page.request.get(f"{service_url}/favicon.ico").status
        browser.close()

    ours = (f"{service_url}/", f"blob:{service_url}/", "data:")  # blob: a worker Redoc makes from its own script
    elsewhere = [url for url in requests if not url.startswith(ours)]
    assert not elsewhere
    assert not failures
    assert all(status < 400 for _, status in answers), answers
    assert (icon_status, favicon_status) == (200, 200)


NARROW = {"width": 1366, "height": 768}  # a common laptop screen


def assert_no_horizontal_scroll(page):
    widths = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert widths[0] <= widths[1], widths


def assert_columns_shown(page, *names):
    # The admin's results scroll sideways inside their own box, which clips what does not fit.
    shown = page.locator(".results").bounding_box()
    widths = page.locator(".results").evaluate("box => [box.scrollWidth, box.clientWidth]")
    assert widths[0] <= widths[1], widths
    for name in names:
        box = page.locator(f"#result_list thead th.column-{name}").bounding_box()
        assert box is not None and box["x"] + box["width"] <= shown["x"] + shown["width"], (name, box, shown)


def test_admin_lists_fit_1366_px_and_the_history_says_one_thing(service_url, django_user_model, settings):
    """At 1366 px the config list shows status and updated-at and the key list last used, expiry and
    revoked without a horizontal scroll; the filter sidebar of ~51 products stays short; a config's
    History page is its activity log only. Screenshots in test-artifacts/."""
    from playwright.sync_api import expect, sync_playwright

    from signalsource import catalog

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_superuser("operator", "operator@example.com", OPERATOR_PASSWORD)
    tenant = Tenant(scopes=["task:read", "task:write", "activity_log:read"])
    configs = [make_config(tenant.project, source.product, source.type) for source in catalog.SOURCES[:12]]
    tenant.project.name = "Growth experiments 2026-12 (EU region)"  # cells as wide as real data makes them
    tenant.project.save(update_fields=["name"])
    tenant.user.username = "an.operator.with.a.long.name@example.com"
    tenant.user.save(update_fields=["username"])
    make_key(tenant.user, ["task:read", "task:write", "activity_log:read"], label="a rather long label for a key")
    artifacts = PROJECT_DIR / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=NARROW)
        page.set_default_timeout(15_000)
        log_in_as_the_operator(page, service_url)

        page.goto(f"{service_url}/admin/signalsource/signalsourceconfig/")
        expect(page.locator("#result_list tbody tr")).to_have_count(len(configs))
        page.screenshot(path=str(artifacts / "admin-config-list-1366.png"), full_page=True)
        assert_no_horizontal_scroll(page)
        assert_columns_shown(page, "source", "enabled", "shown_status", "health", "updated")
        sidebar = page.locator("#changelist-filter").bounding_box()
        assert sidebar["height"] <= NARROW["height"], sidebar
        page.locator("select[aria-label='By source product']").select_option(label="GitHub")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)

        page.goto(f"{service_url}/admin/auth_keys/personalapikey/")
        page.screenshot(path=str(artifacts / "admin-key-list-1366.png"), full_page=True)
        assert_no_horizontal_scroll(page)
        assert_columns_shown(page, "mask", "owner", "last_used", "expires", "revoked")

        page.goto(f"{service_url}/admin/signalsource/signalsourceconfig/{configs[0].id}/history/")
        expect(page.locator("#activity-log")).to_be_visible()
        page.screenshot(path=str(artifacts / "admin-config-history-1366.png"), full_page=True)
        assert "change history" not in page.inner_text("#content")  # Django's "no change history" line
        browser.close()
