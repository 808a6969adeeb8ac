// The round trip with orval's axios client, against a live server. orval's functions call axios's
// default instance, so the base URL and the key are set there, as orval documents.
// `orval-axios/api.ts` is generated next to this file from the served description; nothing is edited.
import axios from "axios";
import { isDeepStrictEqual } from "node:util";
import { getSignalSourceConfigsAPI, type Error as ErrorBody } from "./orval-axios/api";

const { BASE_URL, API_KEY, PROJECT_ID } = process.env;
if (!BASE_URL || !API_KEY || !PROJECT_ID) throw new Error("BASE_URL, API_KEY and PROJECT_ID are required");

function check(condition: boolean, message: string, value?: unknown): asserts condition {
  if (!condition) throw new Error(`${message}: ${JSON.stringify(value)}`);
}

async function main(): Promise<void> {
  axios.defaults.baseURL = BASE_URL;
  axios.defaults.headers.common.Authorization = `Bearer ${API_KEY}`;
  const api = getSignalSourceConfigsAPI();
  const projectId = PROJECT_ID!;

  const empty = await api.signalSourceConfigsList(projectId);
  check(empty.data.count === 0 && empty.data.next === null && empty.data.results.length === 0, "empty list", empty.data);

  const created = await api.signalSourceConfigsCreate(projectId, {
    source_product: "linear",
    source_type: "issue",
    config: { linear_team_ids: [" team-a "], steering: "Bugs only." },
  });
  check(created.status === 201, "create", created.status);
  const config = created.data;
  check(config.enabled === true && config.status === null, "create defaults", config);
  check(JSON.stringify(config.config.linear_team_ids) === '["team-a"]', "create trims team ids", config.config);

  const listed = await api.signalSourceConfigsList(projectId, { limit: 10 });
  check(listed.data.count === 1 && listed.data.results[0].id === config.id, "list", listed.data);

  // Path parameters in the path's order: the project, then the config.
  const fetched = await api.signalSourceConfigsRetrieve(projectId, config.id);
  // Compared as values: PostgreSQL's jsonb stores an object's keys in an order of its own.
  check(isDeepStrictEqual(fetched.data, config), "retrieve", fetched.data);

  const patched = await api.signalSourceConfigsPartialUpdate(projectId, config.id, {
    enabled: false,
    config: { default_not_actionable: true },
  });
  check(patched.data.enabled === false, "patch", patched.data);
  check(JSON.stringify(patched.data.config) === '{"default_not_actionable":true}', "patch replaces config", patched.data);

  // A 400 is thrown as axios's error, its body the declared Error.
  try {
    await api.signalSourceConfigsCreate(projectId, { source_product: "linear", source_type: "issue" });
    check(false, "duplicate create answered 2xx");
  } catch (error: unknown) {
    check(axios.isAxiosError<ErrorBody>(error) && error.response !== undefined, "axios error", String(error));
    const body = error.response.data;
    check(error.response.status === 400 && body.type === "validation_error" && body.code === "unique", "typed 400", body);
    check(body.attr === "source_product", "400 names the field", body);
  }

  const deleted = await api.signalSourceConfigsDestroy(projectId, config.id);
  check(deleted.status === 204, "delete", deleted.status);
  try {
    await api.signalSourceConfigsRetrieve(projectId, config.id);
    check(false, "deleted config still answers");
  } catch (error: unknown) {
    check(axios.isAxiosError<ErrorBody>(error) && error.response?.status === 404, "gone", String(error));
    check(error.response.data.code === "not_found", "404 body", error.response.data);
  }
  console.log("orval axios round trip: ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
