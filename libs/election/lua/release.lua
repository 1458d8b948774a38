-- Deletes the lock, only while it holds this holder's term, and tells the standbys (so one takes over at once
-- instead of at its next retry).
-- KEYS[1] the lock; ARGV[1] "<epoch> <identity>", ARGV[2] the channel standbys listen on
-- Returns 1 when released, 0 when the lock was not this term's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[1])
  return 1
end
return 0
