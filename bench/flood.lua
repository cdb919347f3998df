-- A credential-stuffing flood: every request from a different address (TRUSTED_PROXY_COUNT=1),
-- each address well within its own login budget. Prints the status counts of all threads.
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 4000000)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  local n = offset + counter
  local ip = string.format("100.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  local body = '{"username": "bench-admin", "password": "guess-' .. n .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(totals) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  io.write("statuses: {" .. table.concat(parts, ", ") .. "}\n")
end
