-- wrk script: every request a different URL (an ignored extra parameter),
-- so that our page cache never answers: the cost of rendering afresh.
local n = 0
request = function()
  n = n + 1
  local sep = string.find(wrk.path, "?", 1, true) and "&" or "?"
  return wrk.format(nil, wrk.path .. sep .. "bench_nocache=" .. n)
end
