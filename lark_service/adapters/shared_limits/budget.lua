-- Shared rate-limit budgets: token buckets leased in batches (see redis_budget.py).
-- KEYS[1]: the membership sorted set; KEYS[2..]: one hash per budget.
-- ARGV: process_id, member_ttl (s), then one string per budget (numbers separated by spaces,
--   one argument rather than ten: packing arguments is most of the client's cost):
--   "want max_grant give debt penalty(s) n rate_1 capacity_1 ... rate_n capacity_n"
-- Returns one string: "live granted_1 wait_1 granted_2 wait_2 ..." (wait: ms until one
-- more token).
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local member_ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - member_ttl)
redis.call('PEXPIRE', KEYS[1], math.ceil(member_ttl * 2000))
local out = {redis.call('ZCARD', KEYS[1])}
for k = 2, #KEYS do
  local v = {}
  for word in string.gmatch(ARGV[k + 1], '%S+') do v[#v + 1] = tonumber(word) end
  local want, max_grant, give, debt, penalty, n = v[1], v[2], v[3], v[4], v[5], v[6]
  local rates, caps = {}, {}
  for i = 1, n do
    rates[i], caps[i] = v[5 + 2 * i], v[6 + 2 * i]
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
    for i = 1, n do granted = math.min(granted, math.floor(levels[i] + 1e-6)) end
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
  out[#out + 1] = string.format('%d %d', granted, math.ceil(math.max(0, wait) * 1000))
end
return table.concat(out, ' ')
