# Build step (run by CMake in script mode, never at run time): turns the dashboard's files into a
# C++ source that defines sluice::admin::dashboard_assets() (src/admin/dashboard_assets.h), so
# the binary serves them from memory and never reads web/ or node_modules.
#
#   cmake -DOUTPUT=out.cc -DWORK_DIR=dir -DASSETS="name=path|name=path|..." -P embed_assets.cmake
#
# Each asset gets its content type (from its extension), a strong ETag and a version, both from
# the SHA-256 of its bytes, and text a gzipped copy with its own tag. index.html refers to the other assets as "/dashboard/NAME"; each such
# reference gains "?v=VERSION" here, so a browser may keep a versioned asset for a year (the
# server says so only when the query matches) while the page itself always revalidates.
cmake_minimum_required(VERSION 3.25)

if(NOT OUTPUT OR NOT WORK_DIR OR NOT ASSETS)
  message(FATAL_ERROR "embed_assets.cmake needs -DOUTPUT, -DWORK_DIR and -DASSETS")
endif()

function(content_type_for name out)
  get_filename_component(ext ${name} LAST_EXT)
  string(TOLOWER "${ext}" ext)
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  elseif(ext STREQUAL ".txt")
    set(type "text/plain; charset=utf-8")
  else()
    message(FATAL_ERROR "embed_assets.cmake: no content type for ${name}; add its extension")
  endif()
  set(${out} "${type}" PARENT_SCOPE)
endfunction()

string(REPLACE "|" ";" ASSETS "${ASSETS}")

# First pass: every asset but the page, whose text depends on their versions.
set(names "")
foreach(pair IN LISTS ASSETS)
  string(FIND "${pair}" "=" eq)
  string(SUBSTRING "${pair}" 0 ${eq} name)
  math(EXPR from "${eq} + 1")
  string(SUBSTRING "${pair}" ${from} -1 path)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "embed_assets.cmake: ${path} (asset ${name}) does not exist")
  endif()
  list(APPEND names ${name})
  set(path_${name} "${path}")
  if(NOT name STREQUAL "index.html")
    file(SHA256 "${path}" hash_${name})
  endif()
endforeach()
if(NOT "index.html" IN_LIST names)
  message(FATAL_ERROR "embed_assets.cmake: the assets must include index.html")
endif()

# The page, with its references versioned, goes through a file so that it is hashed and
# hex-encoded like the others.
file(READ "${path_index.html}" page)
foreach(name IN LISTS names)
  if(NOT name STREQUAL "index.html")
    string(SUBSTRING "${hash_${name}}" 0 16 version)
    string(REPLACE "\"/dashboard/${name}\"" "\"/dashboard/${name}?v=${version}\"" page "${page}")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/index.html" "${page}")
set(path_index.html "${WORK_DIR}/index.html")
file(SHA256 "${path_index.html}" hash_index.html)

set(arrays "")
set(entries "")
set(i 0)
foreach(name IN LISTS names)
  file(READ "${path_${name}}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # Two hex digits per byte become "0xNN,"; 16 bytes to a line keeps the file readable by tools
  # (CMake's regular expressions have no {n}, so the line's pattern is spelled out).
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x..," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n" bytes "${bytes}")
  if(size EQUAL 0)
    set(bytes "0")  # an empty array is not C++
  endif()
  content_type_for(${name} type)
  string(SUBSTRING "${hash_${name}}" 0 16 version)
  string(SUBSTRING "${hash_${name}}" 0 32 etag)
  string(APPEND arrays "// ${name}\nconst unsigned char kAsset${i}[] = {\n${bytes}\n};\n\n")

  # Text over 1 KiB is also stored gzipped, when that saves a tenth or more. libarchive's "raw"
  # format writes a bare gzip stream; its header's modification time (bytes 4 to 7) is zeroed so
  # that the same sources always give the same bytes under the same tag.
  set(gzip "{}, {}")
  if(type MATCHES "^text/|svg" AND size GREATER 1024)
    file(ARCHIVE_CREATE OUTPUT "${WORK_DIR}/${name}.gz" PATHS "${path_${name}}" FORMAT raw
         COMPRESSION GZip COMPRESSION_LEVEL 9)
    file(READ "${WORK_DIR}/${name}.gz" gz HEX)
    string(SUBSTRING "${gz}" 0 8 gz_head)
    string(SUBSTRING "${gz}" 16 -1 gz_tail)
    set(gz "${gz_head}00000000${gz_tail}")
    string(LENGTH "${gz}" gz_length)
    math(EXPR gz_size "${gz_length} / 2")
    math(EXPR gz_tenfold "${gz_size} * 10")
    math(EXPR size_ninefold "${size} * 9")
    if(gz_tenfold LESS_EQUAL size_ninefold)
      string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," gz_bytes "${gz}")
      string(REGEX REPLACE "(${line})" "\\1\n" gz_bytes "${gz_bytes}")
      string(APPEND arrays "// ${name}, gzipped\nconst unsigned char kGzip${i}[] = {\n${gz_bytes}\n};\n\n")
      set(gzip "R\"(\"${etag}-gzip\")\",\n     std::string_view(reinterpret_cast<const char*>(kGzip${i}), ${gz_size})")
    endif()
  endif()

  string(APPEND entries
         "    {\"${name}\", \"${type}\", R\"(\"${etag}\")\", \"${version}\",\n"
         "     std::string_view(reinterpret_cast<const char*>(kAsset${i}), ${size}),\n"
         "     ${gzip}},\n")
  math(EXPR i "${i} + 1")
endforeach()

set(text "// Generated by cmake/embed_assets.cmake from web/dashboard/ and uPlot's dist files. Do not edit.
#include \"admin/dashboard_assets.h\"

namespace sluice::admin {

namespace {

${arrays}const DashboardAsset kAssets[] = {
${entries}};

}  // namespace

std::span<const DashboardAsset> dashboard_assets() { return kAssets; }

}  // namespace sluice::admin
")

# Written only when it changed, so an unchanged asset set recompiles nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE "${OUTPUT}" "${text}")
endif()
