-- GET the list of one project's configs, rotating over projects and their keys.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  local t = next_target()
  return wrk.format("GET", "/api/projects/" .. t.project .. "/signal_source_configs/", {Authorization = t.auth})
end
