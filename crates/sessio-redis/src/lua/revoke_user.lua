-- revoke_user: KEYS[1] = user index; ARGV = prefix, now, index suffix, member to keep ('').
-- Deletes every session of the user except the one to keep; returns how many of the
-- deleted ones were live at `now`.
local prefix, now_s, u, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(now_s)
local n = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if m ~= keep then
    local key = prefix .. 's:' .. m
    local f = redis.call('HMGET', key, 'ls', 'idle', 'abs', 'u')
    if f[4] == u then
      local ls, idle, abs = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
      redis.call('DEL', key)
      if ls and idle and abs and now < deadline(ls, idle, abs) then n = n + 1 end
    end
    redis.call('ZREM', KEYS[1], m)
  end
end
tidy(KEYS[1], now_s)
return n
