# Build settings shared by every hpt target, and the helpers that create them.

# The repository root, also when this file is included from a scratch project.
get_filename_component(HPT_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
# Every executable lands in build/bin: `hpt` puts its own directory first on its trials' PATH,
# so specs can name `hpt-train` without a path.
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

if(HPT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

set(HPT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)

# Include paths. Headers are included as "folder/file.h". A library's consumers see only the
# headers it lists as HEADERS (its interface), through links to them under
# build/include/NAME/folder/; its own sources, and an executable's, see their whole folder through a
# link under build/private/NAME/. Tests, fuzz targets and benchmarks are white-box: they add the
# repository root themselves.
function(hpt_link_folder target)
  file(RELATIVE_PATH folder ${HPT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(private ${CMAKE_BINARY_DIR}/private/${target})
  file(REMOVE_RECURSE ${private})
  get_filename_component(parent ${private}/${folder} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${private}/${folder} SYMBOLIC)
  target_include_directories(${target} PRIVATE ${private})
endfunction()

# hpt_library(NAME SOURCES ... HEADERS ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Creates the static library hpt_NAME with the alias hpt::NAME; HEADERS (paths relative to the
# folder) are what a target linking it may include.
function(hpt_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;HEADERS;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(hpt_${name} STATIC ${ARG_SOURCES})
  add_library(hpt::${name} ALIAS hpt_${name})
  hpt_link_folder(hpt_${name})
  file(RELATIVE_PATH folder ${HPT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(public ${CMAKE_BINARY_DIR}/include/${name})
  file(REMOVE_RECURSE ${public})
  foreach(header ${ARG_HEADERS})
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${header})
      message(FATAL_ERROR "hpt_library(${name}): HEADERS names ${folder}/${header}, which does not exist")
    endif()
    get_filename_component(dir ${public}/${folder}/${header} DIRECTORY)
    file(MAKE_DIRECTORY ${dir})
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR}/${header} ${public}/${folder}/${header} SYMBOLIC)
  endforeach()
  target_include_directories(hpt_${name} INTERFACE ${public})
  target_compile_options(hpt_${name} PRIVATE ${HPT_WARNINGS})
  target_link_libraries(hpt_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# hpt_executable(NAME SOURCES ... [DEPS ...])
function(hpt_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  hpt_link_folder(${name})
  target_compile_options(${name} PRIVATE ${HPT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# hpt_test(NAME SOURCES ... [DEPS ...]): a doctest executable registered with CTest.
function(hpt_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${HPT_WARNINGS})
  target_include_directories(${name} PRIVATE ${HPT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} doctest::doctest)
  add_test(NAME ${name} COMMAND ${name})
endfunction()
