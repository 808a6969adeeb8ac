// The round trip with openapi-typescript's types and openapi-fetch, against a live server.
// `schema.d.ts` is generated next to this file from the served description; nothing is edited.
import { isDeepStrictEqual } from "node:util";
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Config = components["schemas"]["SignalSourceConfig"];
type ErrorBody = components["schemas"]["Error"];

const { BASE_URL, API_KEY, PROJECT_ID } = process.env;
if (!BASE_URL || !API_KEY || !PROJECT_ID) throw new Error("BASE_URL, API_KEY and PROJECT_ID are required");

function check(condition: boolean, message: string, value?: unknown): asserts condition {
  if (!condition) throw new Error(`${message}: ${JSON.stringify(value)}`);
}

const LIST = "/api/projects/{project_id}/signal_source_configs/";
const DETAIL = "/api/projects/{project_id}/signal_source_configs/{id}/";
const ACTIVITY = "/api/projects/{project_id}/signal_source_configs/{id}/activity/";
const SIGNALS_DETAIL = "/api/projects/{project_id}/signals/source_configs/{id}/";
const BY_SOURCE = "/api/projects/{project_id}/signals/source_configs/by_source/{source_product}/{source_type}/";
const BULK = "/api/projects/{project_id}/signals/source_configs/bulk/";
const RUNS = "/api/projects/{project_id}/signals/source_configs/{config_id}/runs/";
const RUN = "/api/projects/{project_id}/signals/source_configs/{config_id}/runs/{run_id}/";
const HEALTH = "/api/projects/{project_id}/signals/source_configs/health/";
const CHANGES = "/api/projects/{project_id}/signals/source_configs/changes/";

async function main(): Promise<void> {
  const client = createClient<paths>({ baseUrl: BASE_URL, headers: { Authorization: `Bearer ${API_KEY}` } });
  const project = { project_id: PROJECT_ID! };

  const empty = await client.GET(LIST, { params: { path: project } });
  check(empty.data !== undefined && empty.data.count === 0 && empty.data.next === null, "empty list", empty.data);

  const created = await client.POST(LIST, {
    params: { path: project },
    body: { source_product: "linear", source_type: "issue", config: { linear_team_ids: [" team-a "], steering: "Bugs only." } },
  });
  check(created.response.status === 201 && created.data !== undefined, "create", created.error);
  const config: Config = created.data;
  check(config.enabled === true && config.status === null, "create defaults", config);
  check(JSON.stringify(config.config.linear_team_ids) === '["team-a"]', "create trims team ids", config.config);

  const fetched = await client.GET(DETAIL, { params: { path: { ...project, id: config.id } } });
  // Compared as values: PostgreSQL's jsonb stores an object's keys in an order of its own.
  check(fetched.data !== undefined && isDeepStrictEqual(fetched.data, config), "retrieve", fetched.data);

  const patched = await client.PATCH(DETAIL, {
    params: { path: { ...project, id: config.id } },
    body: { enabled: false, config: { default_not_actionable: true } },
  });
  check(patched.data !== undefined && patched.data.enabled === false, "patch", patched.error);
  check(JSON.stringify(patched.data.config) === '{"default_not_actionable":true}', "patch replaces config", patched.data);

  // A 400 is the typed Error body; a config error names `config` and the key at fault.
  const bad = await client.PATCH(DETAIL, { params: { path: { ...project, id: config.id } }, body: { config: { linear_team_ids: [""] } } });
  check(bad.response.status === 400 && bad.error !== undefined, "bad patch", bad.data);
  const error: ErrorBody = bad.error;
  check(error.type === "validation_error" && error.attr === "config" && error.detail.includes("linear_team_ids"), "typed 400", error);

  const deleted = await client.DELETE(DETAIL, { params: { path: { ...project, id: config.id } } });
  check(deleted.response.status === 204, "delete", deleted.error);
  const gone = await client.GET(DETAIL, { params: { path: { ...project, id: config.id } } });
  check(gone.response.status === 404 && gone.error?.code === "not_found", "gone", gone.error);

  // Paging through `next` with limit=2.
  const sources = [["github", "issue"], ["linear", "issue"], ["zendesk", "ticket"]] as const;
  for (const [source_product, source_type] of sources) {
    const made = await client.POST(LIST, { params: { path: project }, body: { source_product, source_type } });
    check(made.response.status === 201, "create for paging", made.error);
  }
  const seen = new Set<string>();
  let pages = 0;
  let page = await client.GET(LIST, { params: { path: project, query: { limit: 2 } } });
  for (;;) {
    check(page.data !== undefined && page.data.count === 3, "page", page.error);
    pages += 1;
    page.data.results.forEach((item) => seen.add(item.id));
    if (page.data.next === null) break;
    const next = new URL(page.data.next);
    const query = { limit: Number(next.searchParams.get("limit")), offset: Number(next.searchParams.get("offset")) };
    page = await client.GET(LIST, { params: { path: project, query } });
  }
  check(pages === 2 && seen.size === 3, "paged through every config once", { pages, seen: [...seen] });

  // Today's route (PUT) on the same rows, then the config's activity log on the published route.
  const [first] = [...seen];
  const own = await client.GET(DETAIL, { params: { path: { ...project, id: first } } });
  check(own.data !== undefined, "retrieve for put", own.error);
  const put = await client.PUT(SIGNALS_DETAIL, {
    params: { path: { ...project, id: first } },
    body: { source_product: own.data.source_product, source_type: own.data.source_type, enabled: false, config: {} },
  });
  check(put.data !== undefined && put.data.id === first && put.data.enabled === false, "put", put.error);
  const history = await client.GET(ACTIVITY, { params: { path: { ...project, id: first } } });
  check(history.data !== undefined && history.data.total_count === 2, "activity", history.error);
  check(history.data.results[0].activity === "updated" && history.data.results[0].user !== null, "activity record", history.data);

  // Upsert by source and bulk (issue 28).
  const source = { ...project, source_product: "jira", source_type: "issue" } as const;
  const upserted = await client.PUT(BY_SOURCE, { params: { path: source }, body: { enabled: false } });
  check(upserted.response.status === 201 && upserted.data?.enabled === false, "upsert creates", upserted.error);
  const same = await client.PUT(BY_SOURCE, { params: { path: source }, body: { enabled: false } });
  check(same.response.status === 200 && same.response.headers.get("ETag") === '"1"', "upsert of nothing", same.error);
  const bulk = await client.POST(BULK, {
    params: { path: project },
    body: { operations: [{ source_product: "jira", source_type: "issue", enabled: true, if_match: '"1"' }] },
  });
  check(bulk.data !== undefined && bulk.data.results[0].status === 200, "bulk", bulk.error);
  check(bulk.data.results[0].config?.enabled === true && bulk.data.results[0].etag === '"2"', "bulk result", bulk.data);

  // A processor's run (issue 27): started, finished; the config's status and health follow.
  const jira = { ...project, config_id: upserted.data.id };
  const started = await client.POST(RUNS, { params: { path: jira }, body: { state: "running" } });
  check(started.response.status === 201 && started.data?.state === "running", "run started", started.error);
  const finished = await client.PATCH(RUN, {
    params: { path: { ...jira, run_id: started.data.id } },
    body: { state: "failed", error: { code: "timeout", message: "The source did not answer." } },
  });
  check(finished.data?.state === "failed" && finished.data.error?.code === "timeout", "run failed", finished.error);
  const runs = await client.GET(RUNS, { params: { path: jira } });
  check(runs.data?.results.length === 1 && runs.data.results[0].id === started.data.id, "runs", runs.error);
  const failing = await client.GET(HEALTH, { params: { path: project, query: { state: "failing" } } });
  check(failing.data?.length === 1 && failing.data[0].status === "failed", "health", failing.error);

  // The change feed (issue 26): every change of the project, oldest first, resumable from its cursor.
  const feed = await client.GET(CHANGES, { params: { path: project, query: { limit: 1000 } } });
  check(feed.data !== undefined && feed.data.results.length > 0 && feed.data.next === null, "feed", feed.error);
  const last = feed.data.results[feed.data.results.length - 1];
  check(last.type === "signal_source_config.status_changed" && last.subject === upserted.data.id, "last event", last);
  const after = await client.GET(CHANGES, { params: { path: project, query: { after: feed.data.cursor } } });
  check(after.data?.results.length === 0 && after.data.cursor === feed.data.cursor, "nothing after the cursor", after.data);
  console.log("openapi-fetch round trip: ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
