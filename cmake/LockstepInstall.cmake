include(CMakePackageConfigHelpers)
get_property(exported GLOBAL PROPERTY LOCKSTEP_EXPORTED_TARGETS)
install(TARGETS ${exported} EXPORT lockstep-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET lockstep_prometheus)
  install(DIRECTORY include/lockstep DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
else()
  install(DIRECTORY include/lockstep DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN prometheus EXCLUDE)
endif()
install(EXPORT lockstep-targets NAMESPACE lockstep:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lockstep)
configure_package_config_file(cmake/lockstep-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/lockstep-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lockstep)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/lockstep-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/lockstep-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/lockstep-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lockstep)
