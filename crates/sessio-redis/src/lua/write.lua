-- write: one end-of-request decision, or in Redis Cluster one step of it (see cluster.rs).
-- KEYS = [the key to delete], then the write's keys (Rotate: from, to; others: one).
-- ARGV = prefix, now, '1' if KEYS[1] is to be deleted else '0', op ('', C, U, R, T, and
-- the cluster steps M, X), then the op's arguments (see argv.rs). Returns 0 written,
-- 1 key taken, 2 gone.
local prefix, now_s = ARGV[1], ARGV[2]
local now = tonumber(now_s)

local function hset_all(key, fields)
  -- In slices, to stay far below Lua's unpack limit however many values a session has.
  for i = 1, #fields, 200 do
    redis.call('HSET', key, unpack(fields, i, math.min(i + 199, #fields)))
  end
end

-- Applies Changes (ARGV from `base`: has_meta, m, idle, abs, c, u, ls, cleared, then
-- name/flag/bytes triples) to the live session `key` whose times are `s`.
local function apply(key, s, base)
  if ARGV[base] == '1' then
    s.idle, s.abs, s.c = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
    redis.call('HSET', key, 'm', ARGV[base + 1])
    local nu = ARGV[base + 5]
    if nu == '' then nu = nil end
    if s.u and s.u ~= nu then unbind(prefix, now_s, key, s.u) end
    s.u = nu
  end
  if ARGV[base + 7] == '1' then
    for _, f in ipairs(redis.call('HKEYS', key)) do
      local p = string.sub(f, 1, 2)
      if p == 'v:' or p == 'n:' then redis.call('HDEL', key, f) end
    end
  end
  for i = base + 8, #ARGV, 3 do
    local name = ARGV[i]
    if ARGV[i + 1] == 's' then
      redis.call('HSET', key, 'v:' .. name, ARGV[i + 2])
      redis.call('HINCRBY', key, 'n:' .. name, 1)
    else
      redis.call('HDEL', key, 'v:' .. name, 'n:' .. name)
    end
  end
  slide(prefix, now_s, key, s, ARGV[base + 6])
end

local k = 1
if ARGV[3] == '1' then
  local gone = KEYS[1]
  local s = times(redis.call('HGET', gone, 't'))
  redis.call('DEL', gone)
  if s and s.u then unbind(prefix, now_s, gone, s.u) end
  k = 2
end

local op = ARGV[4]
if op == 'C' then
  -- ARGV 5.. = m, ls, idle, abs, c, u, then name/version/bytes triples.
  local key = KEYS[k]
  if redis.call('EXISTS', key) == 1 then return 1 end
  local u = ARGV[10]
  if u == '' then u = nil end
  local t = times_field({ ls = ARGV[6], idle = ARGV[7], abs = ARGV[8], c = ARGV[9], u = u })
  local fields = { 'm', ARGV[5], 't', t }
  for i = 11, #ARGV, 3 do
    fields[#fields + 1] = 'v:' .. ARGV[i]
    fields[#fields + 1] = ARGV[i + 2]
    fields[#fields + 1] = 'n:' .. ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
  hset_all(key, fields)
  local d = deadline(tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
  redis.call('EXPIREAT', key, int(d))
  if u then bind(prefix, now_s, key, u, d) end
  return 0
elseif op == 'T' then
  -- ARGV 5 = last seen.
  local key = KEYS[k]
  local s = live(key, now)
  if not s then return 2 end
  slide(prefix, now_s, key, s, ARGV[5])
  return 0
elseif op == 'U' then
  local key = KEYS[k]
  local s = live(key, now)
  if not s then return 2 end
  apply(key, s, 5)
  return 0
elseif op == 'R' then
  local from, to = KEYS[k], KEYS[k + 1]
  local s = live(from, now)
  if not s then return 2 end
  if redis.call('EXISTS', to) == 1 then return 1 end
  -- RENAME moves the hash as it is now, values written since the caller's load included.
  redis.call('RENAME', from, to)
  if s.u then unbind(prefix, now_s, from, s.u) end
  apply(to, s, 5)
  return 0
elseif op == 'M' then
  -- Rotation across hash slots, step 2 of 3: RENAME cannot cross slots, so the old
  -- session's hash as step 1 read it is copied in (ARGV 5 = how many field/value items
  -- follow), create-only like RENAME's target, then the Changes are applied. The old key's
  -- index membership stays behind: that index is in the old slot, and step 3 removes it.
  local key, n = KEYS[k], tonumber(ARGV[5])
  if redis.call('EXISTS', key) == 1 then return 1 end
  local f = {}
  for i = 6, 5 + n, 2 do f[ARGV[i]] = ARGV[i + 1] end
  local s = times(f.t)
  if not s or now >= deadline(s.ls, s.idle, s.abs) then return 2 end
  -- Not bound here: the old membership is step 3's, and apply binds the new user's.
  s.u = nil
  local fields = {}
  for i = 6, 5 + n do fields[#fields + 1] = ARGV[i] end
  hset_all(key, fields)
  apply(key, s, 6 + n)
  return 0
elseif op == 'X' then
  -- Rotation across hash slots, step 3 of 3: the old session goes, with its index entry.
  -- Gone (2) if a concurrent request destroyed, rotated or outlived it since step 1: then
  -- the rotation lost, and the caller deletes what step 2 wrote.
  local key = KEYS[k]
  local s = live(key, now)
  if not s then return 2 end
  redis.call('DEL', key)
  if s.u then unbind(prefix, now_s, key, s.u) end
  return 0
end
return 0
