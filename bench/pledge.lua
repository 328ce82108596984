-- wrk script for bench/pledge_race.py: POST pledges until the round answers 409 "full".
--
-- Environment (set by pledge_race.py):
--   PLEDGE_TOKENS   a file with one bearer token per line (thread t of n takes lines t, t+n, …)
--   PLEDGE_THREADS  the number of wrk threads (-t)
--   PLEDGE_PATH     /api/v1/campaigns/<id>/pledges
--   PLEDGE_BODY     the JSON body
--   PLEDGE_RUN      a prefix that makes the Idempotency-Keys unique to this run
-- Every request carries its own token and its own Idempotency-Key. A thread stops at the
-- first "full" 409; done() prints one machine-readable line with the counts of all threads.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  thread:set("nthreads", tonumber(os.getenv("PLEDGE_THREADS") or "1"))
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  tokens = {}
  local n = 0
  for line in io.lines(os.getenv("PLEDGE_TOKENS")) do
    if n % nthreads == id and line ~= "" then
      table.insert(tokens, line)
    end
    n = n + 1
  end
  path = os.getenv("PLEDGE_PATH")
  payload = os.getenv("PLEDGE_BODY")
  run = os.getenv("PLEDGE_RUN")
  sent, paid, conflicts, other = 0, 0, 0, 0
  first_other = ""
end

function request()
  sent = sent + 1
  local token = tokens[(sent - 1) % #tokens + 1]
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%s-%d-%d", run, id, sent),
  }, payload)
end

function response(status, headers, body)
  if status == 201 then
    paid = paid + 1
  elseif status == 409 then
    conflicts = conflicts + 1
    if string.find(body, "full", 1, true) then
      wrk.thread:stop()
    end
  else
    other = other + 1
    if first_other == "" then
      first_other = status .. " " .. string.gsub(string.sub(body, 1, 200), "[\"\\%c]", " ")
    end
  end
end

function done(summary, latency, requests)
  local p, c, o, s, first = 0, 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    p = p + thread:get("paid")
    c = c + thread:get("conflicts")
    o = o + thread:get("other")
    s = s + thread:get("sent")
    if first == "" then first = thread:get("first_other") end
  end
  local e = summary.errors
  io.write(string.format(
    "PLEDGE {\"paid\": %d, \"conflicts\": %d, \"other\": %d, \"sent\": %d, \"first_other\": \"%s\", " ..
    "\"p50_ms\": %.3f, \"p95_ms\": %.3f, \"p99_ms\": %.3f, \"socket_errors\": %d}\n",
    p, c, o, s, first, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout))
end
