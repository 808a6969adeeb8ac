-- PATCH one config (enabled flips, config replaced whole), rotating over projects and configs.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  local t = next_target()
  local id = t.ids[(counter % #t.ids) + 1]
  local enabled = (counter % 2 == 0) and "true" or "false"
  return wrk.format("PATCH", "/api/projects/" .. t.project .. "/signal_source_configs/" .. id .. "/",
    {Authorization = t.auth, ["Content-Type"] = "application/json"},
    '{"enabled": ' .. enabled .. ', "config": {"steering": "Prefer regressions."}}')
end
