# Every third-party dependency, found in one place. Each comes from a Debian package
# listed in scripts/debian-packages.txt; nothing is vendored.
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CURL REQUIRED)
# OpenSSL libcrypto: sha256 of downloads (src/hub/sha256.cpp), fast where the CPU has SHA extensions.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(hwy REQUIRED)
if(RWKV_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(RWKV_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
# cpp-httplib: Debian ships it compiled (libcpp-httplib.so), and its header must see the same
# CPPHTTPLIB_* defines the library was built with, so it is found through pkg-config
# (target PkgConfig::HTTPLIB), not as a bare header. Used by the test hub server.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
