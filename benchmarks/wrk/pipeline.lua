-- HTTP/1.1 pipelining: each write carries 16 requests for the URL given to wrk;
-- wrk counts every response.
dofile("report.lua")
local depth = tonumber(os.getenv("BENCH_PIPELINE_DEPTH") or "16")
local batch
init = function(args)
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil, nil)
    end
    batch = table.concat(r)
end
request = function()
    return batch
end
