-- push: KEYS[1] = session; ARGV = now, value field ("v:<name>"), version field
-- ("n:<name>"), element (the JSON of one list item).
-- load_and_push.lua for a session the caller knows needs no touch yet (see recent.rs):
-- same checks and append, no touch, so none of common.lua. Returns nil (absent, unreadable
-- or expired: nothing written) or the session's HGETALL reply with the value and its
-- version as written, followed by the status: 1 = appended, 2 = the value is not a list
-- (nothing appended).
-- Written for what Redis charges a script (callgrind on redis-server 7.0, a 50-item cart:
-- 111k instructions per load_and_push.lua call, 79k for this one): each function a script
-- defines is a closure made again on every call, each table in a reply is searched for
-- the err/ok/map/... fields, `tonumber` runs strtod twice where arithmetic runs it once,
-- and every string a script makes is hashed byte by byte. So: no functions, one flat
-- reply, and only the three times the deadline needs are cut out of t (the caller reads
-- t whole and refuses a malformed one).
local key, vname, nname = KEYS[1], ARGV[2], ARGV[3]
local h = redis.call('HGETALL', key)
local t, vi, ni
for i = 1, #h, 2 do
  local f = h[i]
  if f == 't' then t = h[i + 1]
  elseif f == vname then vi = i + 1
  elseif f == nname then ni = i + 1
  end
end
if not t then return false end
-- The deadline as common.lua's deadline(): the earlier of last seen + idle and the
-- absolute deadline, either 0 when unset.
local ls, idle, abs = string.match(t, '^(%d+) (%d+) (%d+) %d')
if not ls then return false end
ls, idle, abs = ls + 0, idle + 0, abs + 0
local d = abs
if idle > 0 and (abs == 0 or ls + idle < abs) then d = ls + idle end
if ARGV[1] + 0 >= d then return false end
-- Values are compact JSON, so appending to an array is splicing before its closing bracket
-- (the same rule as `sessio::append_to_list`); 91 and 93 are '[' and ']'.
local element = ARGV[4]
local list = vi and h[vi]
local appended
if not list or list == '[]' then
  appended = '[' .. element .. ']'
elseif string.byte(list, 1) == 91 and string.byte(list, -1) == 93 then
  appended = string.sub(list, 1, -2) .. ',' .. element .. ']'
else
  h[#h + 1] = 2
  return h
end
local version = string.format('%d', (ni and tonumber(h[ni]) or 0) + 1)
redis.call('HSET', key, vname, appended, nname, version)
if vi then h[vi] = appended else h[#h + 1] = vname; h[#h + 1] = appended end
if ni then h[ni] = version else h[#h + 1] = nname; h[#h + 1] = version end
h[#h + 1] = 1
return h
