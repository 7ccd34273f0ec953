"""Lua scripts of the Redis layer: each layer operation is one of these, in one round trip.

Every script receives the caller's clock (``now_ms``) as an argument instead of calling
``TIME``: message deadlines are written with the sender's clock, so they must be compared with
a clock of the same kind, and tests inject one.  The envelope format is described in
:mod:`.serializers`; scripts only ever read the leading deadline.

Statistics are counted inside the same scripts (one ``HINCRBY`` on a hash) so they cost no
extra round trip; when the layer runs with ``statistics=False`` the stats keys are not passed
and nothing is counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = [
    "GROUP_ADD",
    "GROUP_DISCARD",
    "GROUP_SEND",
    "PEEK",
    "POP",
    "SEND",
    "LuaScript",
]


@dataclass(frozen=True)
class LuaScript:
    """A script and its SHA1, which is how ``EVALSHA`` names it."""

    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode("utf-8")).hexdigest())


# Shared helpers, prepended to the scripts that need them.
_HELPERS = """
local function deadline_of(entry)
  return tonumber(string.match(entry, '^%d+'))
end

-- Drop expired entries from the head of a list.  Entries are appended in deadline order, so
-- expired ones are at the head; an entry without a readable deadline is garbage and goes too.
local function drop_expired(key, now, limit)
  local dropped = 0
  while dropped < limit do
    local head = redis.call('LINDEX', key, 0)
    if not head then break end
    local deadline = deadline_of(head)
    if deadline and deadline > now then break end
    redis.call('LPOP', key)
    dropped = dropped + 1
  end
  return dropped
end

local function bump(key, field, amount, ttl)
  if key and amount ~= 0 then
    redis.call('HINCRBY', key, field, amount)
    redis.call('EXPIRE', key, ttl)
  end
end
"""

#: Enqueue one envelope.
#: KEYS: list, [global stats hash, [channel stats hash]]
#: ARGV: now_ms, capacity, list ttl ms, envelope, count_full (0/1), global stats ttl,
#:       channel stats ttl
#: Returns 1 when queued, 0 when the list holds ``capacity`` live messages.
SEND = LuaScript(
    "send",
    _HELPERS
    + """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local length = redis.call('LLEN', key)
local expired = 0
-- Only a list at capacity is worth scanning: capacity counts live messages, and expired
-- entries below capacity are skipped when popped anyway.
if length >= capacity then
  expired = drop_expired(key, now, length)
  length = length - expired
end
bump(KEYS[2], 'messages_expired', expired, ARGV[6])
if length >= capacity then
  if ARGV[5] == '1' then
    bump(KEYS[2], 'channel_full_count', 1, ARGV[6])
    bump(KEYS[3], 'channel_full_count', 1, ARGV[7])
  end
  return 0
end
redis.call('RPUSH', key, ARGV[4])
redis.call('PEXPIRE', key, ARGV[3])
bump(KEYS[2], 'messages_count', 1, ARGV[6])
bump(KEYS[3], 'messages_count', 1, ARGV[7])
return 1
""",
)

#: Pop up to ``max`` live envelopes from the first lists that have any, skipping expired ones.
#: KEYS: list 1..n, [global stats hash]
#: ARGV: now_ms, max, n (number of lists), global stats ttl
#: Returns a flat array ``{expired dropped, list index, envelope, list index, envelope, ...}``.
POP = LuaScript(
    "pop",
    _HELPERS
    + """
local now = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local lists = tonumber(ARGV[3])
local out = {0}
local got = 0
local expired = 0
for index = 1, lists do
  while got < wanted do
    local entries = redis.call('LPOP', KEYS[index], wanted - got)
    if not entries then break end
    for _, entry in ipairs(entries) do
      local deadline = deadline_of(entry)
      if deadline and deadline > now then
        got = got + 1
        out[#out + 1] = index
        out[#out + 1] = entry
      else
        expired = expired + 1
      end
    end
  end
  if got >= wanted then break end
end
bump(KEYS[lists + 1], 'messages_expired', expired, ARGV[4])
out[1] = expired
return out
""",
)

#: Add (or refresh) a group member.
#: KEYS: group sorted set, group capacity hash
#: ARGV: score (add time, seconds), channel, capacity ('' = the default rule), ttl seconds
GROUP_ADD = LuaScript(
    "group_add",
    """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return 1
""",
)

#: Remove a group member (no error when absent).
#: KEYS: group sorted set, group capacity hash; ARGV: channel
GROUP_DISCARD = LuaScript(
    "group_discard",
    """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
""",
)

#: Fan one message out to every live member of a group held on this shard.
#: KEYS: group sorted set, group capacity hash, [global stats hash]
#: ARGV: now_ms, expiry cutoff score, envelope head ("deadline|0|"), body, list key prefix,
#:       list ttl ms, default capacity, process-channel capacity,
#:       channel stats key prefix ('' = no per-channel stats), channel stats ttl,
#:       global stats ttl
#: Returns {sent, skipped because full}.
GROUP_SEND = LuaScript(
    "group_send",
    _HELPERS
    + """
local now = tonumber(ARGV[1])
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if #stale > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
  for first = 1, #stale, 1000 do
    redis.call('HDEL', KEYS[2], unpack(stale, first, math.min(first + 999, #stale)))
  end
end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if #members == 0 then return {0, 0} end
local capacities = {}
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do capacities[flat[i]] = tonumber(flat[i + 1]) end
local head = ARGV[3]
local body = ARGV[4]
local list_prefix = ARGV[5]
local default_capacity = tonumber(ARGV[7])
local process_capacity = tonumber(ARGV[8])
local stats_prefix = ARGV[9]
local touched = {}
local counts = {}
local fulls = {}
local sent, skipped, expired = 0, 0, 0
for _, channel in ipairs(members) do
  local bang = string.find(channel, '!', 1, true)
  local base = channel
  if bang then base = string.sub(channel, 1, bang) end
  local key = list_prefix .. base
  local capacity = capacities[channel]
  if not capacity then
    if bang then capacity = process_capacity else capacity = default_capacity end
  end
  local length = redis.call('LLEN', key)
  if length >= capacity then
    local dropped = drop_expired(key, now, length)
    expired = expired + dropped
    length = length - dropped
  end
  -- Single-reader names are unique per conversation; per-channel counters for them would
  -- only fill Redis with short-lived hashes.
  local counted = stats_prefix ~= '' and not string.find(base, '?', 1, true)
  if length >= capacity then
    skipped = skipped + 1
    if counted then fulls[base] = (fulls[base] or 0) + 1 end
  else
    redis.call('RPUSH', key, head .. channel .. '|' .. body)
    touched[key] = true
    sent = sent + 1
    if counted then counts[base] = (counts[base] or 0) + 1 end
  end
end
for key in pairs(touched) do redis.call('PEXPIRE', key, ARGV[6]) end
for base, amount in pairs(counts) do
  bump(stats_prefix .. base, 'messages_count', amount, ARGV[10])
end
for base, amount in pairs(fulls) do
  bump(stats_prefix .. base, 'channel_full_count', amount, ARGV[10])
end
bump(KEYS[3], 'messages_count', sent, ARGV[11])
bump(KEYS[3], 'channel_full_count', skipped, ARGV[11])
bump(KEYS[3], 'group_send_skipped', skipped, ARGV[11])
bump(KEYS[3], 'messages_expired', expired, ARGV[11])
return {sent, skipped}
""",
)

#: Channel statistics: drop expired heads, then report length, head deadline and counters.
#: KEYS: list, channel stats hash, [global stats hash]
#: ARGV: now_ms, global stats ttl
#: Returns {live length, head deadline or false, {field, value, ...}}.
PEEK = LuaScript(
    "peek",
    _HELPERS
    + """
local length = redis.call('LLEN', KEYS[1])
if length > 0 then
  local dropped = drop_expired(KEYS[1], tonumber(ARGV[1]), length)
  length = length - dropped
  bump(KEYS[3], 'messages_expired', dropped, ARGV[2])
end
local deadline = false
if length > 0 then deadline = deadline_of(redis.call('LINDEX', KEYS[1], 0)) or false end
return {length, deadline, redis.call('HGETALL', KEYS[2])}
""",
)

ALL_SCRIPTS = (SEND, POP, GROUP_ADD, GROUP_DISCARD, GROUP_SEND, PEEK)
