-- Replaces library functions the pipeline shares, then fails the load.
string.format = function() return "" end
math.floor = nil
table.insert = 1
return { dpi = 9000 }
