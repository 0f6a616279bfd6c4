# Finds llama.cpp in this order: -DLLAMA_CPP_DIR=<checkout>, the source that scripts/fetch_llama_cpp.sh
# put in third_party/llama.cpp (the pinned node-llama-cpp release), then an installed `llama` package.
# -DBATCHWISE_LLAMA_BUILD_DIR=<build folder> links the libraries another build folder made instead
# (cmake/llama_prebuilt.cmake). Sets LLAMA_CPP_SOURCE_DIR (for the vocab GGUFs in models/) and provides the targets llama and ggml.
set(LLAMA_CPP_DIR "" CACHE PATH "A llama.cpp checkout to build batchwise against")
set(BATCHWISE_LLAMA_BUILD_DIR "" CACHE PATH
    "A batchwise build folder whose llama.cpp/ggml static libraries to link instead of building them again")
set(_llama_src "")
if(BATCHWISE_LLAMA_BUILD_DIR)
  include(${CMAKE_CURRENT_LIST_DIR}/llama_prebuilt.cmake)
elseif(LLAMA_CPP_DIR)
  set(_llama_src "${LLAMA_CPP_DIR}")
elseif(EXISTS "${PROJECT_SOURCE_DIR}/third_party/llama.cpp/CMakeLists.txt")
  set(_llama_src "${PROJECT_SOURCE_DIR}/third_party/llama.cpp")
endif()

if(BATCHWISE_LLAMA_BUILD_DIR)
  # imported above
elseif(_llama_src)
  set(LLAMA_BUILD_TESTS OFF CACHE BOOL "" FORCE)
  set(LLAMA_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
  set(LLAMA_BUILD_APP OFF CACHE BOOL "" FORCE)
  set(LLAMA_BUILD_UI OFF CACHE BOOL "" FORCE)
  set(LLAMA_USE_PREBUILT_UI OFF CACHE BOOL "" FORCE)
  set(LLAMA_OPENSSL OFF CACHE BOOL "" FORCE)
  # Tools are configured but built only on demand (llama-server, llama-batched-bench for tests/bench).
  set(LLAMA_BUILD_TOOLS ON CACHE BOOL "" FORCE)
  set(LLAMA_BUILD_SERVER ON CACHE BOOL "" FORCE)
  set(LLAMA_BUILD_COMMON ON CACHE BOOL "" FORCE)
  set(BUILD_SHARED_LIBS OFF CACHE BOOL "" FORCE)
  set(GGML_CUDA ${BATCHWISE_CUDA} CACHE BOOL "" FORCE)
  add_subdirectory("${_llama_src}" "${CMAKE_BINARY_DIR}/llama.cpp" EXCLUDE_FROM_ALL SYSTEM)
  # llama-server and the libraries only it uses (common, mtmd, the server's own, its HTTP library) are built
  # for the tests, which run a real llama-server on the tiny model. At -O1 they compile in about two thirds
  # of the time (~2 minutes of a fresh 2-core build); ggml and llama, which do the model's work, stay at
  # -O3. A benchmark that measures llama-server as a peer wants it at full speed: ON (a CUDA build's default).
  option(BATCHWISE_LLAMA_SERVER_FULL_OPT "Compile llama-server's own libraries at the build type's -O level"
         ${BATCHWISE_CUDA})
  if(NOT BATCHWISE_LLAMA_SERVER_FULL_OPT)
    foreach(_tool_lib llama-common llama-common-base mtmd server-context llama-server-impl llama-server cpp-httplib)
      if(TARGET ${_tool_lib})
        target_compile_options(${_tool_lib} PRIVATE -O1)
      endif()
    endforeach()
  endif()
  # The same libraries compile as unity sources of 16 (as llama.cpp's own src/models do): their files each parse
  # nlohmann/json and much of common/ again. A fresh 2-core build: 434 -> 163 s of compiling. Left out of the unity
  # sources: json.cpp (its own ordered_json clashes with the one other files declare) and the mtmd helpers (a
  # public library that refuses mtmd's internal headers).
  foreach(_tool_lib llama-common mtmd server-context llama-server-impl)
    if(TARGET ${_tool_lib})
      set_target_properties(${_tool_lib} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 16)
    endif()
  endforeach()
  if(TARGET llama-common)
    set_source_files_properties("${_llama_src}/common/json.cpp" TARGET_DIRECTORY llama-common
                                PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endif()
  if(TARGET mtmd)
    set_source_files_properties("${_llama_src}/tools/mtmd/mtmd-helper.cpp" "${_llama_src}/tools/mtmd/mtmd-helper-gen.cpp"
                                TARGET_DIRECTORY mtmd PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endif()
  set(LLAMA_CPP_SOURCE_DIR "${_llama_src}")
else()
  find_package(llama CONFIG QUIET)
  if(NOT llama_FOUND)
    message(FATAL_ERROR "llama.cpp not found: run scripts/fetch_llama_cpp.sh, or pass -DLLAMA_CPP_DIR=<checkout>")
  endif()
  set(LLAMA_CPP_SOURCE_DIR "${LLAMA_CPP_MODELS_DIR}")
endif()
