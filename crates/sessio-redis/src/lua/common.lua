-- Shared by every sessio script. A session is a hash "<prefix>s:{TTTT}<60 hex>" (TTTT: the
-- session's shard tag, a Redis Cluster hash tag) with the fields m (encoded meta), ls (last
-- seen), idle (idle timeout secs, 0 = none), abs (absolute deadline, 0 = none), c (created
-- at), u (user index suffix "{TTTT}<64 hex>", when bound), and per value v:<name> (bytes)
-- and n:<name> (version). A user index is a zset "<prefix>u:" .. u of members (a session
-- name without "<prefix>s:") scored by their deadline. A bound session carries its user's
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

-- Records activity at ls (a decimal string) and moves the session's deadline, Redis TTL and
-- user-index score with it.
local function slide(prefix, now_s, key, ls, idle, abs, u)
  redis.call('HSET', key, 'ls', ls)
  local d = deadline(tonumber(ls), idle, abs)
  redis.call('EXPIREAT', key, int(d))
  if u then bind(prefix, now_s, key, u, d) end
end

-- From an HGETALL reply: ls, idle and abs as numbers, u, and the positions in the reply of
-- the fields named vname and nname (either may be nil). A field missing gives nil.
local function scan(h, vname, nname)
  local ls, idle, abs, u, vi, ni
  for i = 1, #h, 2 do
    local f = h[i]
    if f == 'ls' then ls = tonumber(h[i + 1])
    elseif f == 'idle' then idle = tonumber(h[i + 1])
    elseif f == 'abs' then abs = tonumber(h[i + 1])
    elseif f == 'u' then u = h[i + 1]
    elseif f == vname then vi = i + 1
    elseif f == nname then ni = i + 1
    end
  end
  return ls, idle, abs, u, vi, ni
end

-- The expiry state of a session that is live at `now`, or nil (absent, unreadable or
-- past its deadline by the caller's clock).
local function live(key, now)
  local f = redis.call('HMGET', key, 'ls', 'idle', 'abs', 'u')
  local ls, idle, abs = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
  if not ls or not idle or not abs then return nil end
  if now >= deadline(ls, idle, abs) then return nil end
  return { ls = ls, idle = idle, abs = abs, u = f[4] }
end

