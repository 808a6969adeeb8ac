-- PATCH one config (enabled flips, config replaced whole), rotating over projects and configs. The
-- config's text is new in every request (this run's start and the request's number): a PATCH that
-- changes nothing writes nothing, and each target comes back to the same config with the same
-- `enabled` (1,000 targets of 5 configs), so without it every pass after the first would be a no-op.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local started = os.time()

function request()
  local t = next_target()
  local id = t.ids[(counter % #t.ids) + 1]
  local enabled = (counter % 2 == 0) and "true" or "false"
  return wrk.format("PATCH", "/api/projects/" .. t.project .. "/signal_source_configs/" .. id .. "/",
    {Authorization = t.auth, ["Content-Type"] = "application/json"},
    '{"enabled": ' .. enabled .. ', "config": {"steering": "Prefer regressions (' .. started .. "-" .. counter .. ')."}}')
end
