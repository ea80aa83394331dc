-- load_and_push: KEYS[1] = session; ARGV = prefix, now, touch interval (whole secs), value
-- name, element (the JSON of one list item).
-- Returns nil (absent, unreadable or expired: nothing written) or {status, touched (0/1),
-- HGETALL reply after the append, packed}, status 1 = appended, 2 = the value is not a list
-- (nothing appended).
local key, prefix, now_s = KEYS[1], ARGV[1], ARGV[2]
local now = tonumber(now_s)
local s = live(key, now)
if not s then return false end
local touched = 0
if s.idle > 0 and now - s.ls >= tonumber(ARGV[3]) then
  slide(prefix, now_s, key, now_s, s.idle, s.abs, s.u)
  touched = 1
end
-- Values are compact JSON, so appending to an array is splicing before its closing bracket
-- (the same rule as `sessio::append_to_list`).
local name, element = ARGV[4], ARGV[5]
local list = redis.call('HGET', key, 'v:' .. name)
local appended
if not list or list == '[]' then
  appended = '[' .. element .. ']'
elseif string.sub(list, 1, 1) == '[' and string.sub(list, -1) == ']' then
  appended = string.sub(list, 1, -2) .. ',' .. element .. ']'
end
local status = 2
if appended then
  redis.call('HSET', key, 'v:' .. name, appended)
  redis.call('HINCRBY', key, 'n:' .. name, 1)
  status = 1
end
return { status, touched, pack(redis.call('HGETALL', key)) }
