// Decoding the Python string literals of the official World vocab (.txt), without eval.
#pragma once

#include <string>
#include <string_view>

namespace rwkv {

// Appends to `out` the bytes that a Python `str` literal ('…' or "…", encoded as UTF-8) or
// `bytes` literal (b'…' or b"…") stands for. Accepted escapes are those Python's repr() writes:
// \\ \' \" \n \t \r \xHH, and in str literals \uHHHH and \UHHHHHHHH. In a str literal \xHH is the
// code point U+00HH (two UTF-8 bytes from 0x80 up); in a bytes literal it is the raw byte.
// Throws rwkv::Error saying what is wrong (no location: the caller knows the file and line).
void append_python_literal(std::string_view literal, std::string& out);

// The same for the text between the quotes of a bytes literal, without the quotes (what
// repr(bytes)[2:-1] gives, as llama.cpp's converter stores RWKV tokens in GGUF files): ASCII with
// the escapes above; either quote may appear unescaped, as repr picks the other one to delimit.
void append_python_bytes_repr_body(std::string_view body, std::string& out);

}  // namespace rwkv
