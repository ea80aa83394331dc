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
-- name/flag/bytes triples) to the live session `key` whose state is `s`.
local function apply(key, s, base)
  local idle, abs, u = s.idle, s.abs, s.u
  if ARGV[base] == '1' then
    idle, abs = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
    redis.call('HSET', key, 'm', ARGV[base + 1], 'idle', ARGV[base + 2], 'abs', ARGV[base + 3], 'c', ARGV[base + 4])
    local nu = ARGV[base + 5]
    if nu == '' then nu = false end
    if u and u ~= nu then unbind(prefix, now_s, key, u) end
    if nu then redis.call('HSET', key, 'u', nu) else redis.call('HDEL', key, 'u') end
    u = nu
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
  slide(prefix, now_s, key, ARGV[base + 6], idle, abs, u)
end

local k = 1
if ARGV[3] == '1' then
  local gone = KEYS[1]
  local u = redis.call('HGET', gone, 'u')
  redis.call('DEL', gone)
  if u then unbind(prefix, now_s, gone, u) end
  k = 2
end

local op = ARGV[4]
if op == 'C' then
  -- ARGV 5.. = m, ls, idle, abs, c, u, then name/version/bytes triples.
  local key = KEYS[k]
  if redis.call('EXISTS', key) == 1 then return 1 end
  local fields = { 'm', ARGV[5], 'ls', ARGV[6], 'idle', ARGV[7], 'abs', ARGV[8], 'c', ARGV[9] }
  if ARGV[10] ~= '' then
    fields[#fields + 1] = 'u'
    fields[#fields + 1] = ARGV[10]
  end
  for i = 11, #ARGV, 3 do
    fields[#fields + 1] = 'v:' .. ARGV[i]
    fields[#fields + 1] = ARGV[i + 2]
    fields[#fields + 1] = 'n:' .. ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
  hset_all(key, fields)
  local d = deadline(tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
  redis.call('EXPIREAT', key, int(d))
  if ARGV[10] ~= '' then bind(prefix, now_s, key, ARGV[10], d) end
  return 0
elseif op == 'T' then
  -- ARGV 5 = last seen.
  local key = KEYS[k]
  local s = live(key, now)
  if not s then return 2 end
  slide(prefix, now_s, key, ARGV[5], s.idle, s.abs, s.u)
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
  local ls, idle, abs = tonumber(f.ls), tonumber(f.idle), tonumber(f.abs)
  if not ls or not idle or not abs or now >= deadline(ls, idle, abs) then return 2 end
  local fields = {}
  for i = 6, 5 + n do fields[#fields + 1] = ARGV[i] end
  hset_all(key, fields)
  apply(key, { ls = ls, idle = idle, abs = abs }, 6 + n)
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
