// The round trip with openapi-zod-client's Zodios client, against a live server. Zodios parses every
// answer with the generated zod schemas, so a body that strays from the description fails here.
// `zod-client.ts` is generated next to this file from the served description; nothing is edited.
import { isErrorFromAlias } from "@zodios/core";
import { isDeepStrictEqual } from "node:util";
import { createApiClient } from "./zod-client";

const { BASE_URL, API_KEY, PROJECT_ID } = process.env;
if (!BASE_URL || !API_KEY || !PROJECT_ID) throw new Error("BASE_URL, API_KEY and PROJECT_ID are required");

function check(condition: boolean, message: string, value?: unknown): asserts condition {
  if (!condition) throw new Error(`${message}: ${JSON.stringify(value)}`);
}

async function main(): Promise<void> {
  const client = createApiClient(BASE_URL!, { axiosConfig: { headers: { Authorization: `Bearer ${API_KEY}` } } });
  const project = { project_id: PROJECT_ID! };

  const empty = await client.signal_source_configs_list({ params: project });
  check(empty.count === 0 && empty.next === null && empty.results.length === 0, "empty list", empty);

  const config = await client.signal_source_configs_create(
    { source_product: "linear", source_type: "issue", config: { linear_team_ids: [" team-a "], steering: "Bugs only." } },
    { params: project },
  );
  check(config.enabled === true && config.status === null, "create defaults", config);
  check(JSON.stringify(config.config.linear_team_ids) === '["team-a"]', "create trims team ids", config.config);

  const listed = await client.signal_source_configs_list({ params: project });
  check(listed.count === 1 && listed.results[0].id === config.id, "list", listed);

  const detail = { params: { ...project, id: config.id } };
  const fetched = await client.signal_source_configs_retrieve(detail);
  // Compared as values: PostgreSQL's jsonb stores an object's keys in an order of its own.
  check(isDeepStrictEqual(fetched, config), "retrieve", fetched);

  const patched = await client.signal_source_configs_partial_update({ enabled: false, config: { default_not_actionable: true } }, detail);
  check(patched.enabled === false, "patch", patched);
  check(JSON.stringify(patched.config) === '{"default_not_actionable":true}', "patch replaces config", patched);

  // A 400 is thrown; its body is the operation's declared Error, checked by zodios against the schema.
  // (A body the schema refuses, such as an empty team id, zodios refuses before sending: a duplicate
  // is one only the server can see.)
  try {
    await client.signal_source_configs_create({ source_product: "linear", source_type: "issue" }, { params: project });
    check(false, "duplicate create answered 2xx");
  } catch (error: unknown) {
    check(isErrorFromAlias(client.api, "signal_source_configs_create", error), "declared error", String(error));
    check(error.response.status === 400, "duplicate status", error.response.status);
    const body = error.response.data;
    check("attr" in body && body.type === "validation_error" && body.code === "unique" && body.attr === "source_product", "typed 400", body);
  }

  await client.signal_source_configs_destroy(undefined, detail);
  try {
    await client.signal_source_configs_retrieve(detail);
    check(false, "deleted config still answers");
  } catch (error: unknown) {
    check(isErrorFromAlias(client.api, "signal_source_configs_retrieve", error), "declared error", String(error));
    check(error.response.status === 404 && "code" in error.response.data && error.response.data.code === "not_found", "gone", error.response.data);
  }
  console.log("openapi-zod-client round trip: ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
