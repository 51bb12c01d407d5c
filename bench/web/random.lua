-- wrk script: a new random URL for every request, the way many visitors
-- and crawlers ask for pages (bench/web/random.sh runs it).
--
--   wrk ... -s random.lua http://HOST:PORT/TRACKER/ -- CASE ISSUES [SEED]
--
-- CASE is one of
--   item      issueN, N a random issue id
--   index     the issue index, random @sort among six orders and a random
--             @startwith page
--   filtered  the index filtered on a random status and priority
--   search    @search_text with two random words of the data's vocabulary
--   mix       40 % item, 25 % index, 20 % filtered, 15 % search
-- ISSUES is how many issues the tracker has (default 20000).

local case = "item"
local issues = 20000
local base = "/"

-- bench/data/make_tracker.py's vocabulary: every message is made of it.
local words = {
  "printer", "network", "crash", "login", "timeout", "database", "upgrade",
  "email", "report", "search", "memory", "disk", "cache", "session", "window",
  "button", "screen", "keyboard", "mouse", "font", "export", "import",
  "backup", "restore", "server", "client", "proxy", "certificate",
  "password", "token", "queue", "worker", "thread", "socket", "packet",
  "router", "firewall", "license", "install", "config",
}
local sorts = { "-activity", "title", "priority", "id", "-creation", "status" }
-- the classic template's statuses and priorities (ids)
local statuses, priorities = 8, 5
local cols = "@columns=title,id,activity,status,assignedto&@pagesize=50"

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  case = args[1] or case
  issues = tonumber(args[2] or issues) or issues
  local seed = tonumber(args[3] or "") or os.time()
  math.randomseed(seed * 1000 + (thread_no or 0))
  base = wrk.path
  if string.sub(base, -1) ~= "/" then
    base = base .. "/"
  end
end

local function item()
  return base .. "issue" .. math.random(1, issues)
end

local function index()
  local pages = math.floor((issues + 49) / 50)
  return base .. "issue?" .. cols .. "&@sort=" .. sorts[math.random(#sorts)]
    .. "&@startwith=" .. (50 * (math.random(1, pages) - 1))
end

local function filtered()
  return base .. "issue?" .. cols .. "&@sort=-activity&@filter=status,priority&status="
    .. math.random(1, statuses) .. "&priority=" .. math.random(1, priorities)
end

local function search()
  return base .. "issue?" .. cols .. "&@sort=-activity&@search_text="
    .. words[math.random(#words)] .. "+" .. words[math.random(#words)]
end

local function mix()
  local r = math.random(100)
  if r <= 40 then
    return item()
  elseif r <= 65 then
    return index()
  elseif r <= 85 then
    return filtered()
  end
  return search()
end

local cases = { item = item, index = index, filtered = filtered, search = search, mix = mix }

request = function()
  local make = cases[case]
  if make == nil then
    error("random.lua: unknown case " .. tostring(case) .. " (item, index, filtered, search, mix)")
  end
  return wrk.format("GET", make())
end

-- Non-2xx/3xx answers are counted by wrk itself ("Non-2xx or 3xx").
done = function(summary, latency, requests)
  io.write(string.format("latency_p50_ms %.2f\nlatency_p99_ms %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  local non2xx = summary.errors.status or 0
  io.write(string.format("non_200 %d\n", non2xx))
end
