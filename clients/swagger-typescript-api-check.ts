// The round trip with swagger-typescript-api's client (its fetch HttpClient), against a live server.
// Generated with --extract-request-params: each call takes its path parameters as one named object
// ({ projectId, id }), where the default takes them as positional strings in the description's order,
// (id, projectId), so that swapping them type-checks and answers 404.
// `sta/Api.ts` is generated next to this file from the served description; nothing is edited.
import { isDeepStrictEqual } from "node:util";
import {
  Api,
  type Error as ErrorBody,
  type HttpResponse,
  SignalSourceConfigSourceTypeEnum as SourceType,
  SourceProductEnum as SourceProduct,
} from "./sta/Api";

const { BASE_URL, API_KEY, PROJECT_ID } = process.env;
if (!BASE_URL || !API_KEY || !PROJECT_ID) throw new Error("BASE_URL, API_KEY and PROJECT_ID are required");

function check(condition: boolean, message: string, value?: unknown): asserts condition {
  if (!condition) throw new Error(`${message}: ${JSON.stringify(value)}`);
}

// A failed call throws its HttpResponse, the body parsed into `error`.
async function failure(call: Promise<unknown>): Promise<HttpResponse<unknown, ErrorBody>> {
  try {
    await call;
  } catch (thrown: unknown) {
    check(thrown instanceof Response, "thrown response", String(thrown));
    return thrown as HttpResponse<unknown, ErrorBody>;
  }
  throw new Error("the call answered 2xx");
}

async function main(): Promise<void> {
  // The key goes on every operation that declares security (all of them), through securityWorker.
  const client = new Api({ baseUrl: BASE_URL, securityWorker: () => ({ headers: { Authorization: `Bearer ${API_KEY}` } }) });
  const { api } = client;
  const projectId = PROJECT_ID!;

  const empty = await api.signalSourceConfigsList({ projectId });
  check(empty.data.count === 0 && empty.data.next === null && empty.data.results.length === 0, "empty list", empty.data);

  const created = await api.signalSourceConfigsCreate(
    { projectId },
    {
      source_product: SourceProduct.Linear,
      source_type: SourceType.Issue,
      config: { linear_team_ids: [" team-a "], steering: "Bugs only." },
    },
  );
  check(created.status === 201, "create", created.status);
  const config = created.data;
  check(config.enabled === true && config.status === null, "create defaults", config);
  check(JSON.stringify(config.config.linear_team_ids) === '["team-a"]', "create trims team ids", config.config);

  const listed = await api.signalSourceConfigsList({ projectId, limit: 10 });
  check(listed.data.count === 1 && listed.data.results[0].id === config.id, "list", listed.data);

  const detail = { projectId, id: config.id };
  const fetched = await api.signalSourceConfigsRetrieve(detail);
  // Compared as values: PostgreSQL's jsonb stores an object's keys in an order of its own.
  check(isDeepStrictEqual(fetched.data, config), "retrieve", fetched.data);

  const patched = await api.signalSourceConfigsPartialUpdate(detail, { enabled: false, config: { default_not_actionable: true } });
  check(patched.data.enabled === false, "patch", patched.data);
  check(JSON.stringify(patched.data.config) === '{"default_not_actionable":true}', "patch replaces config", patched.data);

  const again = { source_product: SourceProduct.Linear, source_type: SourceType.Issue };
  const duplicate = await failure(api.signalSourceConfigsCreate({ projectId }, again));
  const error = duplicate.error;
  check(duplicate.status === 400 && error.type === "validation_error" && error.code === "unique", "typed 400", error);
  check(error.attr === "source_product", "400 names the field", error);

  const deleted = await api.signalSourceConfigsDestroy(detail);
  check(deleted.status === 204, "delete", deleted.status);
  const gone = await failure(api.signalSourceConfigsRetrieve(detail));
  check(gone.status === 404 && gone.error.code === "not_found", "gone", gone.error);
  console.log("swagger-typescript-api round trip: ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
