x = 1
return { dpi = 9000 }
