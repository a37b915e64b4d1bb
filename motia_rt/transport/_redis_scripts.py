"""The Lua scripts of the Redis Streams transport.

Every change of where a delivery lives (pending in a group, delayed, queued in a FIFO group, dead)
is one script, so it is atomic: a crash, a lost reply or a second process settling the same entry
can duplicate a delivery (at least once) but never lose one. Each script settles only if the
delivery is still where the caller believes it is (``XACK`` returned 1, the lease token matches),
so replaying a script after a dropped connection is harmless.

Keys are built inside some scripts (FIFO group queues), so the transport needs one Redis server
or a primary with replicas, not Redis Cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Script", "Scripts"]

_PRELUDE = "local unpack = unpack or table.unpack\n"

# KEYS: stream, delayed zset. ARGV: group, entry id, score, member, xdel ("1": delete the entry).
SCHEDULE = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  if ARGV[5] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0
"""

# KEYS: stream, dlq stream, dlq index. ARGV: group, entry id, step, xdel, dead-letter fields...
DEAD_LETTER = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  if ARGV[4] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
  local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 5))
  redis.call('SADD', KEYS[3], ARGV[3])
  return id
end
return false
"""

# Members are "<unique id>:<attempt>:<message JSON>". KEYS: delayed zset, step stream.
# ARGV: now, limit. Returns how many moved.
MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local a = string.find(m, ':', 1, true)
  local b = a and string.find(m, ':', a + 1, true)
  if b then
    redis.call('XADD', KEYS[2], '*', 'message', string.sub(m, b + 1),
               'attempt', string.sub(m, a + 1, b - 1))
  else
    redis.call('XADD', KEYS[2], '*', 'unreadable-delayed-member', m)
  end
  redis.call('ZREM', KEYS[1], m)
end
return #due
"""

# Hand an entry this consumer still owns back to the step's stream at the same attempt.
# KEYS: stream, step stream. ARGV: group, entry id, consumer, attempt, message, xdel.
RELEASE = """
local owned = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #owned == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if ARGV[6] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
redis.call('XADD', KEYS[2], '*', 'message', ARGV[5], 'attempt', ARGV[4])
return 1
"""

# Heartbeat: reset the idle time of an entry this consumer still owns (no delivery count bump).
# KEYS: stream. ARGV: group, entry id, consumer.
TOUCH = """
local owned = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #owned == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""

# Forget a consumer name if it owns nothing (1: forgotten). KEYS: stream. ARGV: group, consumer.
DROP_CONSUMER = """
local owned = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #owned > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS: dlq stream, step stream. ARGV: dead-letter entry id, message. New entry id or false.
REDRIVE = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[2], '*', 'message', ARGV[2], 'attempt', '1')
end
return false
"""

# -- FIFO: per (step, group) queues ------------------------------------------------------------
# A group whose queue is not empty is in exactly one of `ready` (ZSET, scored by the time it may
# be taken) or `leased` (ZSET, scored by lease expiry; `leases` maps it to the holder's token).
# `tries` counts how often the current head was handed out: it drives the attempt number.

_ENQUEUE = """
local function enqueue(queue, group, element, ready, leases, at)
  redis.call('RPUSH', queue, element)
  if redis.call('HEXISTS', leases, group) == 0 and not redis.call('ZSCORE', ready, group) then
    redis.call('ZADD', ready, at, group)
  end
end
"""

# Move new entries of a topic stream (after the cursor, in stream order) into group queues.
# KEYS: stream, cursor, ready, leases. ARGV: queue key prefix, count, ready-at. Returns count.
FIFO_ADMIT = (
    _ENQUEUE
    + """
local cursor = redis.call('GET', KEYS[2]) or '0-0'
local entries = redis.call('XRANGE', KEYS[1], '(' .. cursor, '+', 'COUNT', tonumber(ARGV[2]))
for _, e in ipairs(entries) do
  local message, attempt, group = nil, '1', ''
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'message' then message = f[i + 1]
    elseif f[i] == 'attempt' then attempt = f[i + 1]
    elseif f[i] == 'group' then group = f[i + 1] end
  end
  local element = '!' .. e[1]
  if message then element = attempt .. ':' .. message end
  enqueue(ARGV[1] .. group, group, element, KEYS[3], KEYS[4], ARGV[3])
  cursor = e[1]
end
if #entries > 0 then redis.call('SET', KEYS[2], cursor) end
return #entries
"""
)

# Start FIFO reading at the stream's end (like a consumer group created at '$'), once, and
# register the cursor with its topic so trimming never passes it. KEYS: stream, cursor, cursors.
FIFO_INIT = """
redis.call('SADD', KEYS[3], KEYS[2])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then id = last[1][1] end
redis.call('SET', KEYS[2], id)
return 1
"""

# Lease up to n ready groups (after returning expired leases to `ready`).
# KEYS: ready, leased, leases, tries. ARGV: queue prefix, now, n, lease expiry, token base.
# Returns group, token, tries, head for each, then how many leases had expired, then the
# earliest remaining ready score or ''.
FIFO_TAKE = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
for _, g in ipairs(expired) do
  redis.call('ZREM', KEYS[2], g)
  redis.call('HDEL', KEYS[3], g)
  redis.call('ZADD', KEYS[1], ARGV[2], g)
end
local groups = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, g in ipairs(groups) do
  redis.call('ZREM', KEYS[1], g)
  local head = redis.call('LINDEX', ARGV[1] .. g, 0)
  if head then
    local token = ARGV[5] .. ':' .. i
    local tries = redis.call('HINCRBY', KEYS[4], g, 1)
    redis.call('HSET', KEYS[3], g, token)
    redis.call('ZADD', KEYS[2], ARGV[4], g)
    out[#out + 1] = g
    out[#out + 1] = token
    out[#out + 1] = tostring(tries)
    out[#out + 1] = head
  else
    redis.call('HDEL', KEYS[4], g)
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
out[#out + 1] = tostring(#expired)
out[#out + 1] = nxt[2] or ''
return out
"""

# Settle the head of a leased group if the token still holds the lease.
# KEYS: ready, leased, leases, tries, dlq, dlq index.
# ARGV: queue prefix, group, token, mode (ack|retry|release|dead), ready-at, step, dlq fields...
# Returns 0 if the lease was lost, the dead-letter entry id for 'dead', else 1.
FIFO_SETTLE = """
local g = ARGV[2]
if redis.call('HGET', KEYS[3], g) ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[3], g)
redis.call('ZREM', KEYS[2], g)
local queue = ARGV[1] .. g
local mode = ARGV[4]
if mode == 'release' then redis.call('HINCRBY', KEYS[4], g, -1) end
if mode == 'ack' or mode == 'dead' then
  redis.call('LPOP', queue)
  redis.call('HDEL', KEYS[4], g)
end
local result = 1
if mode == 'dead' then
  result = redis.call('XADD', KEYS[5], '*', unpack(ARGV, 7))
  redis.call('SADD', KEYS[6], ARGV[6])
end
if redis.call('LLEN', queue) > 0 then redis.call('ZADD', KEYS[1], ARGV[5], g) end
return result
"""

# KEYS: leased, leases. ARGV: group, token, new expiry.
FIFO_TOUCH = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
"""

# KEYS: dlq stream, ready, leases. ARGV: dead-letter entry id, queue key, group, element, now.
FIFO_REDRIVE = (
    _ENQUEUE
    + """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
enqueue(ARGV[2], ARGV[3], ARGV[4], KEYS[2], KEYS[3], ARGV[5])
return 1
"""
)


class Script:
    """A Lua script run with EVALSHA, loaded with EVAL the first time a server lacks it."""

    def __init__(self, source: str) -> None:
        self.source = _PRELUDE + source
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    async def __call__(self, client: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)


class Scripts:
    schedule = Script(SCHEDULE)
    dead_letter = Script(DEAD_LETTER)
    move_due = Script(MOVE_DUE)
    release = Script(RELEASE)
    touch = Script(TOUCH)
    drop_consumer = Script(DROP_CONSUMER)
    redrive = Script(REDRIVE)
    fifo_admit = Script(FIFO_ADMIT)
    fifo_init = Script(FIFO_INIT)
    fifo_take = Script(FIFO_TAKE)
    fifo_settle = Script(FIFO_SETTLE)
    fifo_touch = Script(FIFO_TOUCH)
    fifo_redrive = Script(FIFO_REDRIVE)
