-- Takes the leader lock when nobody holds it, and with it the next epoch, in one step.
-- KEYS[1] the lock (value "<epoch> <identity>", with a TTL)
-- KEYS[2] the epoch counter: only ever incremented, never expires, never reset by this script
-- ARGV[1] identity, ARGV[2] time to live (ms)
-- Returns {1, epoch} when taken, {0, value of the lock} when someone holds it.
-- The value carries the epoch, so a later instance with the same identity (a restarted container keeps its host
-- name and pid 1) cannot renew or release the term of the one before it.
local lock, counter = KEYS[1], KEYS[2]
local nextEpoch = tonumber(redis.call('GET', counter) or '0') + 1
local value = string.format('%d', nextEpoch) .. ' ' .. ARGV[1]
if not redis.call('SET', lock, value, 'NX', 'PX', ARGV[2]) then
  return {0, redis.call('GET', lock) or ''}
end
return {1, redis.call('INCR', counter)}
