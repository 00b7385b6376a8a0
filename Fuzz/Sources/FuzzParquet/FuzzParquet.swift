// The Parquet reader on arbitrary files: footer, schema, pages, codecs, dictionaries, levels and
// row assembly, with the decode budget small (8 MB) so that a bomb is a quick refusal, not a slow run.
import FuzzSupport
import PrefIO

let scratch = ScratchFile(name: "in.parquet")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
    DecodeBudget.memoryLimit = 8 << 20
    DecodeBudget.recordBytes = 256 << 10
    scratch.write(bytes)
    guard let src = try? ParquetSource(path: scratch.path) else { return 0 }
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    var total = 0
    while total < 16 << 20 {
        guard let n = try? buf.withUnsafeMutableBytes({ try src.read(into: $0) }), n > 0 else { break }
        total += n
    }
    return 0
}

@_cdecl("FuzzParquet_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
