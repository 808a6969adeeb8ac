// orval's two clients of the served description (tests/api/test_generated_ts_clients.py runs
// `orval --config orval.config.js` where it saved the description as openapi.yaml). The fetch client
// resolves nothing against the description's `servers: /`, so its base URL is given here, as orval
// documents (`output.baseUrl`): the origin of the server the clients will call, BASE_URL.
if (!process.env.BASE_URL) throw new Error("BASE_URL (the service's origin) is required");

module.exports = {
  axios: { input: "openapi.yaml", output: { target: "orval-axios/api.ts", client: "axios" } },
  fetch: { input: "openapi.yaml", output: { target: "orval-fetch/api.ts", client: "fetch", baseUrl: process.env.BASE_URL } },
};
