-- wrk hook: one machine-readable line with throughput and latency percentiles.
-- Used by bench/campaign_list.py (and bench/pledge_race.py for /healthz):
--   wrk -t2 -c16 -d10s -s bench/latency.lua http://127.0.0.1:PORT/path
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "WRK {\"requests\": %d, \"seconds\": %.3f, \"rate\": %.2f, \"p50_ms\": %.3f, \"p95_ms\": %.3f, " ..
    "\"p99_ms\": %.3f, \"mean_ms\": %.3f, \"max_ms\": %.3f, \"connect_errors\": %d, \"read_errors\": %d, " ..
    "\"write_errors\": %d, \"status_errors\": %d, \"timeouts\": %d}\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
