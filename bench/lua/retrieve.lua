-- GET one config, rotating over projects, their keys and their configs.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  local t = next_target()
  local id = t.ids[(counter % #t.ids) + 1]
  return wrk.format("GET", "/api/projects/" .. t.project .. "/signal_source_configs/" .. id .. "/",
    {Authorization = t.auth})
end
