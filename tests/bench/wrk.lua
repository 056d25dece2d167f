-- wrk script for the bench harness.
-- Arguments after `--`: path_format token method ids_file body_file headers
--   path_format: a path, with %s replaced by the next id of ids_file (rotating) when given
--   body_file:   a JSON body; each %s in it is replaced by a per-request unique string
--   headers:     extra request headers as name=value pairs separated by ";" (or "-")
-- done() prints one line "BENCHJSON {...}" with counts and latency percentiles (microseconds).
local ids, idx, counter = {}, 0, 0
local path_format, method, body = "/", "GET", nil
-- tid is a global set by setup() through thread:set

function setup(thread)
  counter = counter + 1
  thread:set("tid", tostring(counter))
end

function init(args)
  path_format = args[1] or "/"
  local token = args[2]
  method = args[3] or "GET"
  local ids_file, body_file, headers = args[4], args[5], args[6]
  if headers and headers ~= "-" then
    for pair in string.gmatch(headers, "[^;]+") do
      local name, value = string.match(pair, "^([^=]+)=(.*)$")
      if name then wrk.headers[name] = value end
    end
  end
  if token and token ~= "-" then wrk.headers["Authorization"] = "Bearer " .. token end
  if ids_file and ids_file ~= "-" then
    for line in io.lines(ids_file) do if #line > 0 then ids[#ids + 1] = line end end
  end
  if body_file and body_file ~= "-" then
    local f = io.open(body_file, "r"); body = f:read("*a"); f:close()
    wrk.headers["Content-Type"] = "application/json"
  end
  tid = tid or "0"
  math.randomseed(os.time() + tonumber(tid or "0") * 7919)
  idx = math.random(0, math.max(#ids - 1, 0))
end

local seq = 0
function request()
  local path = path_format
  if #ids > 0 then
    idx = idx % #ids + 1
    path = string.format(path_format, ids[idx])
  end
  local b = nil
  if body then
    seq = seq + 1
    local unique = string.format("%s%d%d", tid, math.random(1, 1000000000), seq)
    b = string.gsub(body, "%%s", unique)
  end
  return wrk.format(method, path, nil, b)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
