# cmake/install.cmake — `cmake --install` and `cpack -G DEB` for natgrad (included by CMakeLists.txt).
# Installs: the public headers under <prefix>/include/natgrad/<folder>/, the four static libraries and the
# natgrad::natgrad target that bundles them, the `natgrad` CLI, and the CMake package
# (<libdir>/cmake/natgrad/: natgradConfig.cmake, natgradConfigVersion.cmake, natgradTargets.cmake).
# Tests and benchmarks are not installed.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(NG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/natgrad)
set(NG_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/natgrad)

# Headers keep their folders; the headers include each other as "core/tensor.h", so both
# <prefix>/include (for <natgrad/core/tensor.h>) and <prefix>/include/natgrad are include directories.
foreach(dir core autograd kernels layers optim data)
  install(DIRECTORY ${dir}/ DESTINATION ${NG_INCLUDE_DIR}/${dir} FILES_MATCHING PATTERN "*.h")
endforeach()

# natgrad::natgrad: the whole library for applications (a library target cannot be named `natgrad`,
# the CLI's name).
add_library(natgrad_all INTERFACE)
target_link_libraries(natgrad_all INTERFACE natgrad_optim natgrad_data)
foreach(lib tensor layers optim data all)
  set(export_name ${lib})
  if(lib STREQUAL "all")
    set(export_name natgrad)
  endif()
  set_target_properties(natgrad_${lib} PROPERTIES EXPORT_NAME ${export_name})
endforeach()
install(TARGETS natgrad_tensor natgrad_layers natgrad_optim natgrad_data natgrad_all EXPORT natgradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} ${NG_INCLUDE_DIR})
install(TARGETS natgrad RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT natgradTargets NAMESPACE natgrad:: DESTINATION ${NG_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/natgradConfig.cmake.in
  ${CMAKE_BINARY_DIR}/natgradConfig.cmake INSTALL_DESTINATION ${NG_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/natgradConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/natgradConfig.cmake ${CMAKE_BINARY_DIR}/natgradConfigVersion.cmake
        ${CMAKE_CURRENT_LIST_DIR}/natgradDeps.cmake DESTINATION ${NG_CMAKE_DIR})

# ---- Debian package: `cpack -G DEB` in the build directory -> natgrad_<version>_<arch>.deb -----------------
# A development package (headers, static libraries, CMake package) plus the CLI, so it depends on the -dev
# packages a consumer's find_package(natgrad) needs; those pull in the shared libraries the CLI runs on.
# CUDA and cuDNN (CUDA builds) come from NVIDIA's installers, not Debian packages, so they are not listed.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME natgrad)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "natgrad maintainers <natgrad@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "second-order deep learning (SINGD/IKFAC/KFAC) in C++: library and CLI")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libstdc++6, libgomp1, libopenblas-dev, libdnnl-dev, nlohmann-json3-dev, zlib1g-dev, libcurl4-openssl-dev, libssl-dev, libjpeg-dev")
if(NATGRAD_WITH_MPI)  # the CLI links Open MPI (data-parallel training)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenmpi3, openmpi-bin")
endif()
include(CPack)
