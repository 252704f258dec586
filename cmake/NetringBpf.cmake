# BPF programs: every bpf/<name>.bpf.c is compiled by clang for the BPF
# target and turned into bpf/<name>.skel.h by `bpftool gen skeleton`. The
# skeleton embeds the object, so binaries never read a .o at run time.
# Targets link `netring::bpf_skeletons` to find the headers.

find_program(NETRING_CLANG NAMES clang clang-14 REQUIRED)
find_program(NETRING_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

# Debian keeps asm/types.h under the multiarch include directory.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE NETRING_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT NETRING_MULTIARCH)
  set(NETRING_MULTIARCH "${CMAKE_LIBRARY_ARCHITECTURE}")
endif()

set(NETRING_BPF_OUT "${CMAKE_BINARY_DIR}/generated/bpf")
file(MAKE_DIRECTORY "${NETRING_BPF_OUT}")

function(netring_bpf_skeleton src)
  get_filename_component(file "${src}" NAME)
  string(REGEX REPLACE "\\.bpf\\.c$" "" name "${file}")
  set(obj "${NETRING_BPF_OUT}/${name}.bpf.o")
  set(skel "${NETRING_BPF_OUT}/${name}.skel.h")
  add_custom_command(
    OUTPUT "${obj}"
    COMMAND ${NETRING_CLANG} -target bpf -O2 -g -Wall -Werror
            -D__TARGET_ARCH_x86
            -I${CMAKE_SOURCE_DIR} -I/usr/include/${NETRING_MULTIARCH}
            -MD -MF "${obj}.d"
            -c "${src}" -o "${obj}"
    DEPENDS "${src}"
    DEPFILE "${obj}.d"
    COMMENT "BPF ${name}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT "${skel}"
    COMMAND ${NETRING_BPFTOOL} gen skeleton "${obj}" name "${name}_bpf" > "${skel}.tmp"
    COMMAND ${CMAKE_COMMAND} -E rename "${skel}.tmp" "${skel}"
    DEPENDS "${obj}"
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  set_property(GLOBAL APPEND PROPERTY NETRING_BPF_SKELETONS "${skel}")
endfunction()

# bench/*.bpf.c: the benchmarks' own fixtures (bench/udp_sink.bpf.c), here
# so that tests/ can run them too; only the binaries that include a
# skeleton embed it.
file(GLOB NETRING_BPF_SOURCES CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/bpf/*.bpf.c"
     "${CMAKE_SOURCE_DIR}/bench/*.bpf.c")
foreach(src IN LISTS NETRING_BPF_SOURCES)
  netring_bpf_skeleton("${src}")
endforeach()
get_property(_skels GLOBAL PROPERTY NETRING_BPF_SKELETONS)
add_custom_target(netring_bpf_gen DEPENDS ${_skels})

add_library(netring_bpf_skeletons INTERFACE)
add_library(netring::bpf_skeletons ALIAS netring_bpf_skeletons)
add_dependencies(netring_bpf_skeletons netring_bpf_gen)
# -isystem: the generated code is bpftool's, not ours to warn about.
target_include_directories(netring_bpf_skeletons SYSTEM INTERFACE "${CMAKE_BINARY_DIR}/generated")
target_link_libraries(netring_bpf_skeletons INTERFACE PkgConfig::LIBBPF)
