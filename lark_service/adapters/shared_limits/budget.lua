-- Shared rate-limit budgets: token buckets leased in batches (see redis_budget.py).
-- KEYS[1]: the membership sorted set; KEYS[2..]: one hash per budget.
-- ARGV: process_id, member_ttl (s), then per budget:
--   want, max_grant, give, debt, penalty (s), n, rate_1, capacity_1, ..., rate_n, capacity_n
-- Returns: live processes, then per budget: granted, wait (ms until one more token).
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local member_ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - member_ttl)
redis.call('PEXPIRE', KEYS[1], math.ceil(member_ttl * 2000))
local out = {redis.call('ZCARD', KEYS[1])}
local a = 3
for k = 2, #KEYS do
  local want, max_grant = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local give, debt, penalty = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local n = tonumber(ARGV[a + 5])
  a = a + 6
  local rates, caps = {}, {}
  for i = 1, n do
    rates[i], caps[i] = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    a = a + 2
  end
  local state = redis.call('HMGET', KEYS[k], 't', 's', 'l1', 'l2', 'l3')
  local t = tonumber(state[1]) or now
  local scale = math.min(1, (tonumber(state[2]) or 1) + (now - t) * 0.01)
  local elapsed = math.max(0, now - t)
  local levels, ttl, granted, wait = {}, 1, 0, 0
  for i = 1, n do
    local rate = rates[i] * scale
    rates[i] = rate
    local level = tonumber(state[2 + i]) or caps[i]
    level = math.min(caps[i], level + elapsed * rate)
    levels[i] = math.min(caps[i], level + give) - debt
  end
  if penalty > 0 then
    levels[1] = math.min(levels[1], 0) - penalty * rates[1]
    scale = math.max(0.5, scale * 0.8)
  end
  if want > 0 then
    granted = math.min(want, max_grant)
    for i = 1, n do granted = math.min(granted, math.floor(levels[i])) end
    granted = math.max(0, granted)
    for i = 1, n do levels[i] = levels[i] - granted end
  end
  for i = 1, n do
    if granted < want then wait = math.max(wait, (1 - levels[i]) / rates[i]) end
    ttl = math.max(ttl, (caps[i] - levels[i]) / rates[i])
  end
  local fields = {'t', now, 's', scale}
  for i = 1, n do
    fields[#fields + 1] = 'l' .. i
    fields[#fields + 1] = levels[i]
  end
  redis.call('HSET', KEYS[k], unpack(fields))
  redis.call('PEXPIRE', KEYS[k], math.ceil(ttl * 1000) + 1000)
  out[#out + 1] = granted
  out[#out + 1] = math.ceil(math.max(0, wait) * 1000)
end
return out
