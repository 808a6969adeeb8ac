-- Shared by the scenario scripts: the targets (written by run.py), a fixed request rate when
-- BENCH_RATE is set (requests per second for this wrk thread, paced on an absolute schedule so a
-- slow response does not lower the rate), and a JSON summary on stdout when wrk is done.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

targets = dofile(os.getenv("BENCH_TARGETS"))
-- With several instances (run.py --instances), each wrk takes every n-th target: disjoint shares.
local shard, shards = (os.getenv("BENCH_SHARD") or "0/1"):match("(%d+)/(%d+)")
shard, shards = tonumber(shard), tonumber(shards)
if shards > 1 then
  local mine = {}
  for i, t in ipairs(targets) do
    if (i - 1) % shards == shard then table.insert(mine, t) end
  end
  targets = mine
end
counter = 0

local rate = tonumber(os.getenv("BENCH_RATE") or "0")
if rate > 0 then
  local next_at = nil
  function delay()
    local t = now_ms()
    next_at = (next_at or t) + 1000 / rate
    local wait = next_at - t
    if wait < 0 then return 0 end
    return wait
  end
end

function next_target()
  counter = counter + 1
  return targets[(counter % #targets) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nBENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
