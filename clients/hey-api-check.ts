// The round trip with @hey-api/openapi-ts's generated SDK (its fetch client), against a live server.
// `hey/` is generated next to this file from the served description; nothing is edited.
import { client } from "./hey/client.gen";
import {
  signalSourceConfigsActivity,
  signalSourceConfigsCreate,
  signalSourceConfigsDestroy,
  signalSourceConfigsList,
  signalSourceConfigsPartialUpdate,
  signalSourceConfigsRetrieve,
  signalsSourceConfigsUpdate,
} from "./hey/sdk.gen";
import type { Error as ErrorBody, SignalSourceConfig } from "./hey/types.gen";

const { BASE_URL, API_KEY, PROJECT_ID } = process.env;
if (!BASE_URL || !API_KEY || !PROJECT_ID) throw new Error("BASE_URL, API_KEY and PROJECT_ID are required");

function check(condition: boolean, message: string, value?: unknown): asserts condition {
  if (!condition) throw new Error(`${message}: ${JSON.stringify(value)}`);
}

async function main(): Promise<void> {
  client.setConfig({ baseUrl: BASE_URL, headers: { Authorization: `Bearer ${API_KEY}` } });
  const project = { project_id: PROJECT_ID! };

  const empty = await signalSourceConfigsList({ path: project });
  check(empty.data !== undefined && empty.data.count === 0 && empty.data.next === null, "empty list", empty.data);

  const created = await signalSourceConfigsCreate({
    path: project,
    body: { source_product: "linear", source_type: "issue", config: { linear_team_ids: [" team-a "], steering: "Bugs only." } },
  });
  check(created.response?.status === 201 && created.data !== undefined, "create", created.error);
  const config: SignalSourceConfig = created.data;
  check(config.enabled === true && config.status === null, "create defaults", config);
  check(JSON.stringify(config.config.linear_team_ids) === '["team-a"]', "create trims team ids", config.config);

  const fetched = await signalSourceConfigsRetrieve({ path: { ...project, id: config.id } });
  check(fetched.data !== undefined && fetched.data.id === config.id, "retrieve", fetched.data);

  const patched = await signalSourceConfigsPartialUpdate({
    path: { ...project, id: config.id },
    body: { enabled: false, config: { default_not_actionable: true } },
  });
  check(patched.data !== undefined && patched.data.enabled === false, "patch", patched.error);
  check(JSON.stringify(patched.data.config) === '{"default_not_actionable":true}', "patch replaces config", patched.data);

  // A 400 is the typed Error body; a config error names `config` and the key at fault.
  const bad = await signalSourceConfigsPartialUpdate({ path: { ...project, id: config.id }, body: { config: { linear_team_ids: [""] } } });
  check(bad.response?.status === 400 && bad.error !== undefined, "bad patch", bad.data);
  const error = bad.error as ErrorBody; // the union of the operation's error bodies; a 400 is Error
  check(error.type === "validation_error" && error.attr === "config" && error.detail.includes("linear_team_ids"), "typed 400", error);

  const deleted = await signalSourceConfigsDestroy({ path: { ...project, id: config.id } });
  check(deleted.response?.status === 204, "delete", deleted.error);
  const gone = await signalSourceConfigsRetrieve({ path: { ...project, id: config.id } });
  check(gone.response?.status === 404 && gone.error?.code === "not_found", "gone", gone.error);

  // Paging through `next` with limit=2.
  const sources = [["github", "issue"], ["linear", "issue"], ["zendesk", "ticket"]] as const;
  for (const [source_product, source_type] of sources) {
    const made = await signalSourceConfigsCreate({ path: project, body: { source_product, source_type } });
    check(made.response?.status === 201, "create for paging", made.error);
  }
  const seen = new Set<string>();
  let pages = 0;
  let page = await signalSourceConfigsList({ path: project, query: { limit: 2 } });
  for (;;) {
    check(page.data !== undefined && page.data.count === 3, "page", page.error);
    pages += 1;
    page.data.results.forEach((item) => seen.add(item.id));
    if (page.data.next === null) break;
    const next = new URL(page.data.next);
    const query = { limit: Number(next.searchParams.get("limit")), offset: Number(next.searchParams.get("offset")) };
    page = await signalSourceConfigsList({ path: project, query });
  }
  check(pages === 2 && seen.size === 3, "paged through every config once", { pages, seen: [...seen] });

  // Today's route (PUT) on the same rows, then the config's activity log on the published route.
  const [first] = [...seen];
  const own = await signalSourceConfigsRetrieve({ path: { ...project, id: first } });
  check(own.data !== undefined, "retrieve for put", own.error);
  const put = await signalsSourceConfigsUpdate({
    path: { ...project, id: first },
    body: { source_product: own.data.source_product, source_type: own.data.source_type, enabled: false, config: {} },
  });
  check(put.data !== undefined && put.data.id === first && put.data.enabled === false, "put", put.error);
  const history = await signalSourceConfigsActivity({ path: { ...project, id: first } });
  check(history.data !== undefined && history.data.total_count === 2, "activity", history.error);
  check(history.data.results[0].activity === "updated" && history.data.results[0].user !== null, "activity record", history.data);
  console.log("hey-api round trip: ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
