-- Create a config in an empty project, then delete it: each 201 queues a DELETE of what it made.
-- The project id travels in the config (unknown keys are kept and echoed), so the DELETE finds it.
-- Creates cycle over every (project, source) slot, so a slot is reused only long after its delete.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local sources = {
  {"session_replay", "session_analysis_cluster"}, {"llm_analytics", "evaluation"}, {"github", "issue"},
  {"linear", "issue"}, {"zendesk", "ticket"},
}
local auth_by_project = {}
for _, t in ipairs(targets) do auth_by_project[tostring(t.project)] = t.auth end
local pending = {}
local creates = 0

function request()
  local created = table.remove(pending, 1)  -- oldest first, so none waits until its slot comes round again
  if created then
    return wrk.format("DELETE", "/api/projects/" .. created.project .. "/signal_source_configs/" .. created.id .. "/",
      {Authorization = auth_by_project[created.project]})
  end
  creates = creates + 1
  local t = targets[(creates % #targets) + 1]
  local s = sources[(math.floor(creates / #targets) % #sources) + 1]
  return wrk.format("POST", "/api/projects/" .. t.project .. "/signal_source_configs/",
    {Authorization = t.auth, ["Content-Type"] = "application/json"},
    '{"source_product": "' .. s[1] .. '", "source_type": "' .. s[2] .. '", "config": {"bench_project": "' ..
      t.project .. '"}}')
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":%s*"([^"]+)"')
    local project = body:match('"bench_project":%s*"(%d+)"')
    if id and project then table.insert(pending, {id = id, project = project}) end
  end
end
