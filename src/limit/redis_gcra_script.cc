#include "limit/redis_gcra_script.h"

#include <openssl/evp.h>

#include <string>

namespace sluice::limit {

namespace {

// Redis runs a script alone, so the reads and writes of every charge happen as one step.
//
// Time and precision. Lua numbers are doubles, exact for integers up to 2^53: microseconds since
// the epoch (TIME's seconds and microseconds) fit, nanoseconds since the epoch do not. A TAT is
// stored as decimal nanoseconds since the epoch (the local limiter's unit, so the two agree to
// the nanosecond), read as seconds and nanoseconds apart, and all arithmetic is on spans relative
// to now, exact below 2^53 ns (104 days). Spans saturate at 2^61 ns, as in gcra_math.h. Every
// number handed to redis.call is formatted with %d: Lua's own conversion would write large ones
// in exponent form, which Redis refuses as an integer.
//
// A key is written with PX at its TAT, so it vanishes once its bucket is full again (the same as
// no key); a bucket given back to full is deleted.
//
// TIME before writes needs effects replication, the default since Redis 5 (the only mode in 7).
// Calling redis.replicate_commands() for older servers would cost more than the rest of the
// script: about 9 us a call on Redis 7.0, where it is a deprecated no-op.
constexpr std::string_view kScript = R"lua(
local E9 = 1000000000
local MAX = 2305843009213693952
local function divmod(a, b)
  local q = math.floor(a / b)
  local r = a - q * b
  if r < 0 then q = q - 1; r = r + b elseif r >= b then q = q + 1; r = r - b end
  return q, r
end
local now_s, now_n
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now_s = tonumber(t[1])
  now_n = tonumber(t[2]) * 1000
else
  local q, r = divmod(tonumber(ARGV[2]), 1000000)
  now_s = q
  now_n = r * 1000
end
local function ahead_of(key)
  local v = redis.call('GET', key)
  if not v then return 0 end
  local s, n = 0, tonumber(v)
  if #v > 9 then
    s = tonumber(string.sub(v, 1, -10))
    n = tonumber(string.sub(v, -9))
  end
  if not s or not n then return 0 end
  local a = (s - now_s) * E9 + (n - now_n)
  if a <= 0 then return 0 end
  if a > MAX then return MAX end
  return a
end
local function store(key, a)
  if a <= 0 then
    redis.call('DEL', key)
    return
  end
  local q, r = divmod(now_n + a, E9)
  local ms, rest = divmod(a, 1000000)
  if rest > 0 then ms = ms + 1 end
  redis.call('SET', key, string.format('%d%09d', now_s + q, r), 'PX', string.format('%d', ms))
end
local op = ARGV[1]
if op == 'a' then
  local orig, taken, aheads = {}, {}, {}
  local refused = 0
  for i = 1, #KEYS do
    local k = KEYS[i]
    if orig[k] == nil then orig[k] = ahead_of(k) end
    local at = 3 * i
    if refused == 0 then
      local a = taken[k] or orig[k]
      aheads[i] = a
      local span = tonumber(ARGV[at])
      if ARGV[at + 2] == '1' or a + span - tonumber(ARGV[at + 1]) > 0 then
        refused = i
      else
        taken[k] = a + span
      end
    else
      aheads[i] = orig[k]
    end
  end
  if refused > 0 then
    for i = 1, refused - 1 do aheads[i] = orig[KEYS[i]] end
  else
    for k, a in pairs(taken) do store(k, a) end
  end
  table.insert(aheads, 1, refused)
  return aheads
elseif op == 'r' then
  for i = 1, #KEYS do
    local a = ahead_of(KEYS[i])
    if a > 0 then store(KEYS[i], a - tonumber(ARGV[2 + i])) end
  end
  return 0
elseif op == 'c' then
  for i = 1, #KEYS do
    local a = ahead_of(KEYS[i]) + tonumber(ARGV[2 + i])
    if a > MAX then a = MAX end
    store(KEYS[i], a)
  end
  return 0
end
return redis.error_reply('ERR unknown operation')
)lua";

std::string sha1_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace

std::string_view redis_gcra_script() { return kScript; }

std::string_view redis_gcra_script_sha1() {
  static const std::string sha = sha1_hex(kScript);
  return sha;
}

}  // namespace sluice::limit
