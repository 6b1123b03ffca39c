# lockstep_add_library(<module> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# Builds lockstep_<module> (STATIC), alias lockstep::<module>, exported as lockstep::<module>.
function(lockstep_add_library module)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target lockstep_${module})
  add_library(${target} STATIC)
  target_sources(${target} PRIVATE ${ARG_SOURCES})
  add_library(lockstep::${module} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${module} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} Threads::Threads PRIVATE ${ARG_PRIVATE_DEPS})
  set_property(GLOBAL APPEND PROPERTY LOCKSTEP_EXPORTED_TARGETS ${target})
endfunction()

# lockstep_add_test(<name> SOURCES ... [DEPS ...] [LABELS ...] [INTEGRATION])
# A gtest binary registered with ctest through gtest_discover_tests-free add_test (one
# process per binary keeps fixtures cheap). INTEGRATION tests need the `servers` fixture.
# Unit tests beside the sources (under src/) may include the module's private headers;
# tests elsewhere (tests/, apps/) see the public headers only.
function(lockstep_add_test name)
  cmake_parse_arguments(ARG "INTEGRATION" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  if(CMAKE_CURRENT_SOURCE_DIR MATCHES "^${PROJECT_SOURCE_DIR}/src(/|$)")
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  set(labels ${ARG_LABELS})
  if(ARG_INTEGRATION)
    list(APPEND labels integration)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED servers
      ENVIRONMENT_MODIFICATION "LOCKSTEP_STACK_DIR=set:${LOCKSTEP_TEST_STACK_DIR};LOCKSTEP_STACK_SCRIPT=set:${PROJECT_SOURCE_DIR}/scripts/stack.sh;LOCKSTEP_MARIADB_PORT=set:${LOCKSTEP_TEST_MARIADB_PORT};LOCKSTEP_REDIS_PORT=set:${LOCKSTEP_TEST_REDIS_PORT};LOCKSTEP_REDIS_COUNT=set:${LOCKSTEP_TEST_REDIS_COUNT}")
  else()
    list(APPEND labels unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# One generated translation unit per public header: proves each compiles on its own.
function(lockstep_add_header_checks)
  file(GLOB_RECURSE headers RELATIVE ${PROJECT_SOURCE_DIR}/include CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/include/lockstep/*.h)
  if(NOT TARGET lockstep_prometheus)
    list(FILTER headers EXCLUDE REGEX "^lockstep/prometheus/")
  endif()
  set(sources "")
  foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER "${h}" id)
    set(tu ${CMAKE_CURRENT_BINARY_DIR}/header_checks/${id}.cc)
    file(CONFIGURE OUTPUT ${tu} CONTENT "#include \"${h}\"\n#include \"${h}\"  // include guard works\n")
    list(APPEND sources ${tu})
  endforeach()
  add_library(lockstep_header_checks OBJECT ${sources})
  target_include_directories(lockstep_header_checks PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(lockstep_header_checks PRIVATE lockstep::lockstep
                        $<$<TARGET_EXISTS:lockstep_prometheus>:lockstep::prometheus>)
endfunction()
