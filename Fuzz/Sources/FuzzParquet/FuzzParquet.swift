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
    drain(src)
    return 0
}

@_cdecl("FuzzParquet_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
