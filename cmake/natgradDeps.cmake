# cmake/natgradDeps.cmake — finds the libraries natgrad links that ship no usable CMake package on Debian 12
# and defines one imported target for each:
#   natgrad::openblas  OpenBLAS (cblas.h, libopenblas)     natgrad::dnnl  oneDNN (dnnl.h, libdnnl)
#   natgrad::cudnn     cuDNN (cudnn.h, libcudnn), only when NATGRAD_DEPS_CUDNN is true
# oneDNN's own CMake package also demands the OpenCL development files, so it is found directly.
# Included by the top-level CMakeLists.txt and, installed, by natgradConfig.cmake, so the build and the
# consumers of an installed natgrad find the same libraries. What is not found is listed in
# NATGRAD_DEPS_MISSING (empty when all are found); the includer decides how to fail.
set(NATGRAD_DEPS_MISSING "")

# natgrad_imported_lib(<name> <header> <library> [HINTS dirs...] [SUFFIXES dirs...]) defines natgrad::<name>.
function(natgrad_imported_lib name header library)
  cmake_parse_arguments(arg "" "" "HINTS;SUFFIXES" ${ARGN})
  string(TOUPPER "${name}" upper)
  find_path(NATGRAD_${upper}_INCLUDE_DIR ${header} HINTS ${arg_HINTS} PATH_SUFFIXES ${arg_SUFFIXES})
  find_library(NATGRAD_${upper}_LIBRARY NAMES ${library} HINTS ${arg_HINTS})
  if(NOT NATGRAD_${upper}_INCLUDE_DIR OR NOT NATGRAD_${upper}_LIBRARY)
    set(NATGRAD_DEPS_MISSING ${NATGRAD_DEPS_MISSING}
        "${name} (${header}: ${NATGRAD_${upper}_INCLUDE_DIR}, lib${library}: ${NATGRAD_${upper}_LIBRARY})"
        PARENT_SCOPE)
    return()
  endif()
  if(NOT TARGET natgrad::${name})
    add_library(natgrad::${name} UNKNOWN IMPORTED)
    set_target_properties(natgrad::${name} PROPERTIES IMPORTED_LOCATION "${NATGRAD_${upper}_LIBRARY}"
                          INTERFACE_INCLUDE_DIRECTORIES "${NATGRAD_${upper}_INCLUDE_DIR}")
  endif()
endfunction()

natgrad_imported_lib(openblas cblas.h openblas SUFFIXES openblas-pthread openblas)
natgrad_imported_lib(dnnl dnnl.h dnnl)
if(NATGRAD_DEPS_CUDNN)
  natgrad_imported_lib(cudnn cudnn.h cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_INCLUDE_DIRS}
                       /usr/lib/x86_64-linux-gnu /usr/include)
endif()
