module example.com/api

go 1.22

require example.com/util v0.0.0

replace example.com/util => ../../lib/util
