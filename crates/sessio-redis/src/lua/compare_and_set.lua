-- compare_and_set: KEYS[1] = session; ARGV = now, name, expected version ('' = absent),
-- '1' to set / '0' to remove, bytes.
-- Returns {0, new version} or {0} (removed), {1, current bytes, current version}
-- (conflict), or {2} (gone).
local key, name, expected = KEYS[1], ARGV[2], ARGV[3]
if not live(key, tonumber(ARGV[1])) then return { 2 } end
local cur = redis.call('HMGET', key, 'v:' .. name, 'n:' .. name)
local version = cur[2]
-- A value without a version (never written so by sessio) counts as version 0, so that a
-- retry naming 0 repairs it instead of conflicting forever.
if cur[1] and not version then version = '0' end
local ok
if expected == '' then ok = not cur[1] else ok = cur[1] and version == expected end
if not ok then return { 1, cur[1], version } end
if ARGV[4] == '1' then
  redis.call('HSET', key, 'v:' .. name, ARGV[5])
  return { 0, redis.call('HINCRBY', key, 'n:' .. name, 1) }
end
redis.call('HDEL', key, 'v:' .. name, 'n:' .. name)
return { 0 }
