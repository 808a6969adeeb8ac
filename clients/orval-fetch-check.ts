// The round trip with orval's fetch client, against a live server. Its URLs carry the base URL given
// at generation (orval.config.js); every call takes fetch's options, here the key.
// `orval-fetch/api.ts` is generated next to this file from the served description; nothing is edited.
import { isDeepStrictEqual } from "node:util";
import {
  signalSourceConfigsCreate,
  signalSourceConfigsDestroy,
  signalSourceConfigsList,
  signalSourceConfigsPartialUpdate,
  signalSourceConfigsRetrieve,
} from "./orval-fetch/api";

const { BASE_URL, API_KEY, PROJECT_ID } = process.env;
if (!BASE_URL || !API_KEY || !PROJECT_ID) throw new Error("BASE_URL, API_KEY and PROJECT_ID are required");

function check(condition: boolean, message: string, value?: unknown): asserts condition {
  if (!condition) throw new Error(`${message}: ${JSON.stringify(value)}`);
}

async function main(): Promise<void> {
  const auth = { headers: { Authorization: `Bearer ${API_KEY}` } };
  const projectId = PROJECT_ID!;

  const empty = await signalSourceConfigsList(projectId, undefined, auth);
  check(empty.status === 200 && empty.data.count === 0 && empty.data.next === null, "empty list", empty.data);

  const created = await signalSourceConfigsCreate(
    projectId,
    { source_product: "linear", source_type: "issue", config: { linear_team_ids: [" team-a "], steering: "Bugs only." } },
    auth,
  );
  check(created.status === 201, "create", created.data);
  const config = created.data;
  check(config.enabled === true && config.status === null, "create defaults", config);
  check(JSON.stringify(config.config.linear_team_ids) === '["team-a"]', "create trims team ids", config.config);

  const listed = await signalSourceConfigsList(projectId, { limit: 10 }, auth);
  check(listed.status === 200 && listed.data.count === 1 && listed.data.results[0].id === config.id, "list", listed.data);

  // Path parameters in the path's order: the project, then the config.
  const fetched = await signalSourceConfigsRetrieve(projectId, config.id, auth);
  // Compared as values: PostgreSQL's jsonb stores an object's keys in an order of its own.
  check(fetched.status === 200 && isDeepStrictEqual(fetched.data, config), "retrieve", fetched.data);

  // PATCH takes two media types (JSON and merge patch), so orval leaves the choice to the caller:
  // without a Content-Type fetch sends text/plain, which is refused with a typed 415.
  const change = { enabled: false, config: { default_not_actionable: true } };
  const untyped = await signalSourceConfigsPartialUpdate(projectId, config.id, change, auth);
  check(untyped.status === 415 && untyped.data.code === "unsupported_media_type", "PATCH without a media type", untyped.data);
  const json = { headers: { ...auth.headers, "Content-Type": "application/json" } };
  const patched = await signalSourceConfigsPartialUpdate(projectId, config.id, change, json);
  check(patched.status === 200 && patched.data.enabled === false, "patch", patched.data);
  check(JSON.stringify(patched.data.config) === '{"default_not_actionable":true}', "patch replaces config", patched.data);

  // A 400 is the declared Error body, typed by the status.
  const duplicate = await signalSourceConfigsCreate(projectId, { source_product: "linear", source_type: "issue" }, auth);
  check(duplicate.status === 400, "duplicate create", duplicate.data);
  const error = duplicate.data;
  check(error.type === "validation_error" && error.code === "unique" && error.attr === "source_product", "typed 400", error);

  const deleted = await signalSourceConfigsDestroy(projectId, config.id, auth);
  check(deleted.status === 204, "delete", deleted.data);
  const gone = await signalSourceConfigsRetrieve(projectId, config.id, auth);
  check(gone.status === 404 && gone.data.code === "not_found", "gone", gone.data);
  console.log("orval fetch round trip: ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
