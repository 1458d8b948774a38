-- Records that the session is SAFE (with its reason) or no longer SAFE; a reset leaves it as it is.
-- KEYS[1] meta
-- ARGV[1] writer's epoch · ARGV[2] writer's cycle · ARGV[3] '1' SAFE, '0' not · ARGV[4] the reason
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'safe', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'safe')
end
return 1
