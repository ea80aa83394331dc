-- Shared by every sessio script. A session is a hash "<prefix>s:{TTTT}<60 hex>" (TTTT: the
-- session's shard tag, a Redis Cluster hash tag) with the fields m (encoded meta), t (the
-- times the scripts read, "<ls> <idle> <abs> <c>[ <u>]": last seen, idle timeout secs
-- (0 = none), absolute deadline (0 = none), created at, and the user index suffix
-- "{TTTT}<64 hex>" when bound), and per value v:<name> (bytes) and n:<name> (version).
-- One field for the times keeps every HGETALL reply short: its caller pays for each
-- string in it. A user index is a zset "<prefix>u:" .. u of members (a session name
-- without "<prefix>s:") scored by their deadline. A bound session carries its user's
-- tag, so the scripts reach a user's index and sessions within one hash slot; in a cluster
-- that is what lets them touch keys the caller could not declare (index members).

local function int(n)
  return string.format('%d', n)
end

-- The earlier of the idle and absolute deadlines. A record with neither cannot be
-- written by sessio; treat it as long expired rather than immortal.
local function deadline(ls, idle, abs)
  local d = nil
  if idle > 0 then d = ls + idle end
  if abs > 0 and (d == nil or abs < d) then d = abs end
  return d or 0
end

-- What user indexes hold for a session: its name after "<prefix>s:".
local function member(prefix, key)
  return string.sub(key, #prefix + 3)
end

-- Drops members whose deadline has passed and lets Redis expire the index with its
-- longest-lived member, so an index never outgrows the live sessions.
local function tidy(idx, now)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
  local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('EXPIREAT', idx, int(tonumber(top[2])))
  end
end

local function bind(prefix, now, key, u, d)
  local idx = prefix .. 'u:' .. u
  redis.call('ZADD', idx, int(d), member(prefix, key))
  tidy(idx, now)
end

local function unbind(prefix, now, key, u)
  local idx = prefix .. 'u:' .. u
  redis.call('ZREM', idx, member(prefix, key))
  tidy(idx, now)
end

-- A session's times from its t field: { ls, idle, abs, c (numbers), u (string or nil) },
-- or nil when t is missing or malformed.
local function times(t)
  if not t then return nil end
  local ls, idle, abs, c, u = string.match(t, '^(%d+) (%d+) (%d+) (%d+) ?(%S*)$')
  if not ls then return nil end
  if u == '' then u = nil end
  return { ls = tonumber(ls), idle = tonumber(idle), abs = tonumber(abs), c = tonumber(c), u = u }
end

-- The t field for times `s` (ls and c as given: numbers or decimal strings).
local function times_field(s)
  local t = int(s.ls) .. ' ' .. int(s.idle) .. ' ' .. int(s.abs) .. ' ' .. int(s.c)
  if s.u then t = t .. ' ' .. s.u end
  return t
end

-- Records activity at ls (a decimal string) in the session's times `s`, writes them, and
-- moves the session's deadline, Redis TTL and user-index score with it.
local function slide(prefix, now_s, key, s, ls)
  s.ls = tonumber(ls)
  redis.call('HSET', key, 't', times_field(s))
  local d = deadline(s.ls, s.idle, s.abs)
  redis.call('EXPIREAT', key, int(d))
  if s.u then bind(prefix, now_s, key, s.u, d) end
end

-- From an HGETALL reply: the session's times (nil when t is missing or malformed) and the
-- positions in the reply of the fields named vname and nname (either may be nil).
local function scan(h, vname, nname)
  local s, vi, ni
  for i = 1, #h, 2 do
    local f = h[i]
    if f == 't' then s = times(h[i + 1])
    elseif f == vname then vi = i + 1
    elseif f == nname then ni = i + 1
    end
  end
  return s, vi, ni
end

-- The times of a session that is live at `now`, or nil (absent, unreadable or past its
-- deadline by the caller's clock).
local function live(key, now)
  local s = times(redis.call('HGET', key, 't'))
  if not s or now >= deadline(s.ls, s.idle, s.abs) then return nil end
  return s
end
