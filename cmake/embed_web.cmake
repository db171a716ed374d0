# Turns every file of the console (web/) into one C++ source: a table of
# {path, bytes, size} that src/api/internal/console_files.cc looks paths up
# in, so that `straits serve` carries its console with it (issue 18).
# Run as a script at build time (src/api/CMakeLists.txt):
#   cmake -DWEB_DIR=... -DOUTPUT=... -P embed_web.cmake
# Plain CMake (file(READ ... HEX)): no xxd, nothing fetched.
cmake_minimum_required(VERSION 3.20)
if(NOT WEB_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "embed_web.cmake: set WEB_DIR and OUTPUT")
endif()
file(GLOB_RECURSE files RELATIVE ${WEB_DIR} ${WEB_DIR}/*)
list(SORT files)
set(arrays "")
set(rows "")
set(index 0)
foreach(file IN LISTS files)
  # Hidden files (editor swap files, .DS_Store) are not part of the console.
  if(file MATCHES "(^|/)\\.")
    continue()
  endif()
  file(READ ${WEB_DIR}/${file} hex HEX)
  string(LENGTH "${hex}" digits)
  math(EXPR size "${digits} / 2")
  # 0x.. bytes, a line every 32 bytes; a trailing 0 keeps empty files valid C++.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x..,){32})" "\\1\n    " bytes "${bytes}")
  string(APPEND arrays "const unsigned char kFile${index}[] = {\n    ${bytes}0};\n")
  string(APPEND rows "    {\"${file}\", kFile${index}, ${size}},\n")
  math(EXPR index "${index} + 1")
endforeach()
set(text "// Generated from web/ by cmake/embed_web.cmake: do not edit.
#include \"api/internal/console_files.h\"

namespace straits::api::internal {
namespace {

${arrays}
}  // namespace

const std::vector<EmbeddedFile>& embedded_console_files() {
  static const std::vector<EmbeddedFile> files = {
${rows}  };
  return files;
}

}  // namespace straits::api::internal
")
# Rewritten only when it changes: an unchanged console compiles nothing again.
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE ${OUTPUT} "${text}")
