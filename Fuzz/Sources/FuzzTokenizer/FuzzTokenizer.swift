// The tokenizer.json reader on arbitrary bytes: the strict JSON parser, then the model, normalizer,
// pre-tokenizer, decoder and added tokens it supports. A file that loads must then encode and decode
// a text touching every kind of character class without trapping.

import Tokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let tokenizer = try? BPETokenizer(tokenizerJSON: bytes, file: "tokenizer.json") else { return 0 }
    let ids = tokenizer.encode("Hello, world! It's 2026: café, naïve, 😀 <|endoftext|>\n\tdef f(x): return x**2  ")
    _ = tokenizer.decode(ids, skipSpecialTokens: false)
    return 0
}
