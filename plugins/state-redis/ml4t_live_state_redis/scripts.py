"""Lua scripts: each multi-key update runs atomically inside Redis.

A script checks every key's type before it writes anything (Redis does not roll a script
back), so a key of the wrong type fails the call with WRONGTYPE and nothing is overwritten.
A client killed mid-call never leaves half an update: Redis runs a script whole or not at all.
"""

from __future__ import annotations

_CHECK_TYPES = """
local function check(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= want and t ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. t .. ', expected a ' .. want)
  end
end
"""

#: KEYS: journal, max_seq. ARGV: encoded record, its client-order sequence or ''.
#: The order path waits for this, so it checks types through the commands themselves (no
#: TYPE calls): GET fails on a non-string sequence key and XADD on a non-stream journal, both
#: before anything is written; after a successful XADD the SET cannot fail.
APPEND_JOURNAL = """
local current = nil
if ARGV[2] ~= '' then
  local raw = redis.call('GET', KEYS[2])
  current = 0
  if raw then
    current = tonumber(raw)
    if current == nil then
      return redis.error_reply('CORRUPT ' .. KEYS[2] .. ' is not a number')
    end
  end
end
local id = redis.call('XADD', KEYS[1], '*', 'v', '1', 'record', ARGV[1])
if current ~= nil and tonumber(ARGV[2]) > current then redis.call('SET', KEYS[2], ARGV[2]) end
return id
"""

#: KEYS: journal, max_seq. ARGV: pairs of (encoded record, its client-order sequence or '').
#: Group commit: every record in one atomic call. Types are checked by the commands as in
#: APPEND_JOURNAL (GET before any XADD; the first XADD fails before anything is written).
APPEND_JOURNAL_MANY = """
local current = nil
for i = 2, #ARGV, 2 do
  if ARGV[i] ~= '' then
    local raw = redis.call('GET', KEYS[2])
    current = 0
    if raw then
      current = tonumber(raw)
      if current == nil then
        return redis.error_reply('CORRUPT ' .. KEYS[2] .. ' is not a number')
      end
    end
    break
  end
end
local best, best_raw = current, nil
for i = 1, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'v', '1', 'record', ARGV[i])
  if ARGV[i + 1] ~= '' and tonumber(ARGV[i + 1]) > best then
    best, best_raw = tonumber(ARGV[i + 1]), ARGV[i + 1]
  end
end
if best_raw then redis.call('SET', KEYS[2], best_raw) end
return #ARGV / 2
"""

#: KEYS: state. ARGV: encoded state.
SAVE_STATE = _CHECK_TYPES + """
local err = check(KEYS[1], 'string')
if err then return err end
return redis.call('SET', KEYS[1], ARGV[1])
"""

#: KEYS: trading_state. ARGV: encoded record, channel.
WRITE_TRADING_STATE = _CHECK_TYPES + """
local err = check(KEYS[1], 'string')
if err then return err end
redis.call('SET', KEYS[1], ARGV[1])
return redis.call('PUBLISH', ARGV[2], ARGV[1])
"""

#: KEYS: state, journal, max_seq, trading_state. One consistent snapshot of what `load_state`
#: needs: {type, value} per key, value '' when the key is absent or not a string.
SNAPSHOT = """
local out = {}
for i, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key)['ok']
  local v = ''
  if t == 'string' then v = redis.call('GET', key) end
  out[#out + 1] = t
  out[#out + 1] = v
end
return out
"""

#: KEYS: keys to move aside, then their aside names (same count), then state, trading_state,
#: max_seq. ARGV: number of keys to move, new state, new trading-state record, channel, max seq
#: or ''. The caller always moves state and trading_state aside, so the SETs replace nothing.
RESET = """
local n = tonumber(ARGV[1])
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('RENAME', KEYS[i], KEYS[n + i]) end
end
redis.call('SET', KEYS[2 * n + 1], ARGV[2])
redis.call('SET', KEYS[2 * n + 2], ARGV[3])
if ARGV[5] ~= '' then redis.call('SET', KEYS[2 * n + 3], ARGV[5]) end
return redis.call('PUBLISH', ARGV[4], ARGV[3])
"""
