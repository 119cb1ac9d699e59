rootProject.name = "orbit"
include(":api", ":engine")
// include(":old")
