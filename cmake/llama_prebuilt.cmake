# Imports the llama.cpp/ggml static libraries that another batchwise build folder already built
# (BATCHWISE_LLAMA_BUILD_DIR, e.g. build/), with the headers of the source it was built from. The
# sanitizer builds (scripts/sanitize.sh) use it so that only batchwise's own code is compiled again
# with -fsanitize: a second build of llama.cpp costs ~10 minutes on CI's 2 cores. llama.cpp and ggml stay
# uninstrumented. Provides the targets llama and ggml (and llama-server when that build has it), and
# sets LLAMA_CPP_SOURCE_DIR, as cmake/llama.cmake does.
get_filename_component(_prebuilt "${BATCHWISE_LLAMA_BUILD_DIR}" ABSOLUTE BASE_DIR "${PROJECT_SOURCE_DIR}")
set(_prebuilt_cache "${_prebuilt}/CMakeCache.txt")
if(NOT EXISTS "${_prebuilt}/llama.cpp/src/libllama.a" OR NOT EXISTS "${_prebuilt_cache}")
  message(FATAL_ERROR "BATCHWISE_LLAMA_BUILD_DIR=${_prebuilt} has no built llama.cpp: run scripts/build.sh first")
endif()
# The source those libraries came from: the llama.cpp source folder that build was configured with.
load_cache("${_prebuilt}" READ_WITH_PREFIX _prebuilt_ ggml_SOURCE_DIR GGML_OPENMP)
if(NOT _prebuilt_ggml_SOURCE_DIR)
  message(FATAL_ERROR "${_prebuilt_cache} does not name the llama.cpp source it was built from")
endif()
get_filename_component(LLAMA_CPP_SOURCE_DIR "${_prebuilt_ggml_SOURCE_DIR}" DIRECTORY)

find_package(Threads REQUIRED)
set(_ggml_deps Threads::Threads m ${CMAKE_DL_LIBS})
if(_prebuilt_GGML_OPENMP)
  find_package(OpenMP REQUIRED)
  list(APPEND _ggml_deps OpenMP::OpenMP_C OpenMP::OpenMP_CXX)
endif()

foreach(lib ggml-base ggml-cpu ggml llama)
  add_library(${lib} STATIC IMPORTED GLOBAL)
endforeach()
set_target_properties(ggml-base PROPERTIES IMPORTED_LOCATION "${_prebuilt}/llama.cpp/ggml/src/libggml-base.a"
  INTERFACE_INCLUDE_DIRECTORIES "${_prebuilt_ggml_SOURCE_DIR}/include" INTERFACE_LINK_LIBRARIES "${_ggml_deps}")
set_target_properties(ggml-cpu PROPERTIES IMPORTED_LOCATION "${_prebuilt}/llama.cpp/ggml/src/libggml-cpu.a"
  INTERFACE_LINK_LIBRARIES "ggml-base;${_ggml_deps}")
set_target_properties(ggml PROPERTIES IMPORTED_LOCATION "${_prebuilt}/llama.cpp/ggml/src/libggml.a"
  INTERFACE_LINK_LIBRARIES "ggml-cpu;ggml-base;${_ggml_deps}")
set_target_properties(llama PROPERTIES IMPORTED_LOCATION "${_prebuilt}/llama.cpp/src/libllama.a"
  INTERFACE_INCLUDE_DIRECTORIES "${LLAMA_CPP_SOURCE_DIR}/include" INTERFACE_LINK_LIBRARIES "ggml")

if(EXISTS "${_prebuilt}/bin/llama-server")
  add_executable(llama-server IMPORTED GLOBAL)
  set_target_properties(llama-server PROPERTIES IMPORTED_LOCATION "${_prebuilt}/bin/llama-server")
endif()

# llama.cpp's own copy of nlohmann/json, which the json_schema converter (CMakeLists.txt) is built
# with, as in a build from source; without it a sanitizer build would refuse response_format json_schema.
if(NOT TARGET vendor::nlohmann AND EXISTS "${LLAMA_CPP_SOURCE_DIR}/vendor/nlohmann/json.hpp")
  add_library(batchwise_llama_vendor_nlohmann INTERFACE)
  target_include_directories(batchwise_llama_vendor_nlohmann SYSTEM INTERFACE "${LLAMA_CPP_SOURCE_DIR}/vendor")
  add_library(vendor::nlohmann ALIAS batchwise_llama_vendor_nlohmann)
endif()
