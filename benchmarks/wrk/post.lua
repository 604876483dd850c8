-- POST /items with a 1 KB JSON body (item.json).
dofile("report.lua")
local f = assert(io.open("item.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
