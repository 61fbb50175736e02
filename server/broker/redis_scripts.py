"""The Lua scripts of the Redis broker (``server.broker.redis``), each registered once per
broker. The comment above a script names its KEYS and ARGV.

Why each step is atomic: every operation that reads and then writes, or reads
several keys that must agree, is one Lua script, registered once; Redis runs a
script as a single command, so no other client's command interleaves. That
covers ``publish`` (new epoch, offset, history, trim, PUBLISH: subscribers see
messages in offset order because they are published in the same step that
numbers them), ``history`` (the position and the list read together),
``set_snapshot`` (the position it is stamped with), ``drop_stream`` (the keys
and the notice to subscribers), compare-and-set and delete, the leases, and
presence (expired members are removed in the same step that reads or writes
the group). Other reads are single commands. Times come from Redis's ``TIME``
inside the scripts and key expiry is Redis's own: "the broker's clock" is the
Redis server's wall clock, the same for every node.
"""

CLOCK = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function int(n)
  return string.format('%d', n)
end
"""

# KEYS meta, hist, snap; ARGV payload, new_epoch ('1'/'0'), history cap, channel.
PUBLISH = (
    CLOCK
    + """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch = tonumber(m[1]) or 0
local offset = tonumber(m[2]) or 0
if ARGV[2] == '1' or epoch == 0 then
  -- A stream's first epoch is the time in ms, so one started again never reuses one.
  if epoch == 0 then epoch = math.max(1, now_ms()) else epoch = epoch + 1 end
  offset = 0
  redis.call('DEL', KEYS[2], KEYS[3])
end
offset = offset + 1
local head = int(epoch) .. ':' .. int(offset) .. ':'
redis.call('HSET', KEYS[1], 'epoch', int(epoch), 'offset', int(offset))
redis.call('RPUSH', KEYS[2], head .. ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('PUBLISH', ARGV[4], head .. int(now_us()) .. ':' .. ARGV[1])
return {epoch, offset}
"""
)

# KEYS meta, hist; ARGV after_offset. Returns {epoch, offset, entries after after_offset...}.
HISTORY = """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch = tonumber(m[1]) or 0
local offset = tonumber(m[2]) or 0
local out = {epoch, offset}
local wanted = offset - tonumber(ARGV[1])
if wanted > 0 then
  local entries = redis.call('LRANGE', KEYS[2], -wanted, -1)
  for i = 1, #entries do out[#out + 1] = entries[i] end
end
return out
"""

# KEYS meta. The position and the time a new subscription starts from.
FLOOR = (
    CLOCK
    + """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
return {tonumber(m[1]) or 0, tonumber(m[2]) or 0, int(now_us())}
"""
)

# KEYS meta, snap; ARGV payload.
SET_SNAPSHOT = """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch, offset = m[1] or '0', m[2] or '0'
redis.call('HSET', KEYS[2], 'epoch', epoch, 'offset', offset, 'payload', ARGV[1])
return {tonumber(epoch), tonumber(offset)}
"""

# KEYS meta, hist, snap; ARGV channel. Returns the time (µs) of the drop.
DROP = (
    CLOCK
    + """
local t = int(now_us())
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[1], 'drop:' .. t)
return t
"""
)

# KEYS route; ARGV node id, ttl ms.
ROUTE_ADD = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS route; ARGV node channel prefix, envelope. How many got it; nodes nobody hears leave.
NOTIFY = """
local nodes = redis.call('SMEMBERS', KEYS[1])
local heard = 0
for i = 1, #nodes do
  local n = redis.call('PUBLISH', ARGV[1] .. nodes[i], ARGV[2])
  if n == 0 then redis.call('SREM', KEYS[1], nodes[i]) else heard = heard + n end
end
return heard
"""

# KEYS state, version counter; ARGV value, expected version, ttl ms (0: none).
COMPARE_AND_SET = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version')) or 0
if current ~= tonumber(ARGV[2]) then return false end
local version = redis.call('INCR', KEYS[2])
if version <= current then
  version = current + 1
  redis.call('SET', KEYS[2], version)
end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', version)
local ttl = tonumber(ARGV[3])
if ttl ~= 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return version
"""

# KEYS state; ARGV expected version ('': any).
DELETE = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version'))
if not current then return 0 end
if ARGV[1] ~= '' and current ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS lease; ARGV owner, ttl ms.
ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])  -- taken and already expired
end
return 1
"""

# KEYS lease; ARGV owner.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

PRESENCE = (
    CLOCK
    + """
local function purge(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  for i = 1, #gone do redis.call('HDEL', KEYS[2], 'd:' .. gone[i], 'o:' .. gone[i]) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
end
"""
)

# KEYS exp, data; ARGV member, data, ttl ms, owner, take ('1'/'0').
PRESENCE_TOUCH = (
    PRESENCE
    + """
local now = now_ms()
purge(now)
local member = ARGV[1]
if ARGV[5] == '0' then
  local held = redis.call('HGET', KEYS[2], 'o:' .. member)
  if held and held ~= ARGV[4] then return 0 end
end
local expires = now + tonumber(ARGV[3])
if expires <= now then  -- written already expired: gone
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], 'd:' .. member, 'o:' .. member)
  return 1
end
redis.call('ZADD', KEYS[1], expires, member)
redis.call('HSET', KEYS[2], 'd:' .. member, ARGV[2], 'o:' .. member, ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1
"""
)

# KEYS exp, data; ARGV member, owner, with owner ('1'/'0').
PRESENCE_LEAVE = (
    PRESENCE
    + """
purge(now_ms())
local member = ARGV[1]
local held = redis.call('HGET', KEYS[2], 'o:' .. member)
if not held then return 0 end
if ARGV[3] == '1' and held ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], member)
redis.call('HDEL', KEYS[2], 'd:' .. member, 'o:' .. member)
return 1
"""
)

# KEYS exp, data. Returns {member, data, member, data, ...}.
PRESENCE_LIST = (
    PRESENCE
    + """
purge(now_ms())
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for i = 1, #members do
  out[#out + 1] = members[i]
  out[#out + 1] = redis.call('HGET', KEYS[2], 'd:' .. members[i]) or ''
end
return out
"""
)
