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
# cpp-httplib (header only, no CMake config in Debian): used by the test hub server.
find_path(HTTPLIB_INCLUDE_DIR httplib.h)
