# netring_embed_assets(TARGET <target> OUTPUT <file.cpp> URLS <url>... FILES <file>...)
#
# Compiles files into <target> as netring::agent::api::page_assets() (see
# agent/api/page_assets.hpp): the i-th URL serves the i-th file. The source
# is regenerated when a file changes; nothing is read at run time.
function(netring_embed_assets)
  cmake_parse_arguments(E "" "TARGET;OUTPUT" "URLS;FILES" ${ARGN})
  list(JOIN E_URLS "^" urls)
  list(JOIN E_FILES "^" files)
  add_custom_command(
    OUTPUT "${E_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT=${E_OUTPUT}" "-DURLS=${urls}" "-DFILES=${files}" -P
            "${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake"
    DEPENDS ${E_FILES} "${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake"
    COMMENT "Embedding the page's files into ${E_TARGET}"
    VERBATIM)
  target_sources(${E_TARGET} PRIVATE "${E_OUTPUT}")
endfunction()
